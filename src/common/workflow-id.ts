/** Backfill workflow ids come from the request, so starting the same backfill twice finds the first. */
import type { BackfillRequest } from './input';

export function backfillWorkflowId(
  req: Pick<BackfillRequest, 'featureGroup' | 'featureVersion' | 'startDate' | 'endDate' | 'dryRun'>,
): string {
  return `backfill-${req.featureGroup}-${req.featureVersion}-${req.startDate}-${req.endDate}${req.dryRun ? '-dry-run' : ''}`;
}
