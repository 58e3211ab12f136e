/**
 * The backfill: validate the request, plan chunks, run them as child workflows oldest first with
 * at most maxConcurrentChunks in flight, and report. A failed chunk does not stop the others.
 * Operators pause, resume, change concurrency, retry failed chunks and cancel while it runs.
 * Long ranges continue-as-new, carrying compact chunk state (chunk-book.ts), so each run's history
 * and every payload stay small at any range. The state and its operations are the Backfill class
 * (backfill.ts); this function wires the messages to it and records how it ended.
 */
import {
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackfillActivities } from '../../activities';
import type { BackfillOutcome } from '../../activities/backends';
import type { BackfillInput } from '../../common/input';
import type { BackfillReport } from '../../common/results';
import { rootMessage } from '../../common/errors';
import { pauseSignal, progressQuery, resumeSignal, retryFailedUpdate, setMaxConcurrentChunksUpdate } from '../api';
import { refuseForgedCarry } from '../accept';
import { Backfill, checkMaxConcurrentChunks } from './backfill';
import { BACKFILL_PATCHES, type BackfillCarry } from './input';

export { BACKFILL_PATCHES, CHUNKS_PER_RUN, type BackfillCarry } from './input';

const outcomes = proxyActivities<BackfillActivities>({
  // One metric data point: quick, or the service is down.
  startToCloseTimeout: '1 minute',
  // Retry a short outage; after that the backfill ends without its data point (alarm on missing data).
  retry: { maximumAttempts: 5, initialInterval: '5 seconds', backoffCoefficient: 2 },
});

export async function backfillWorkflow(input: BackfillInput, carry?: BackfillCarry): Promise<BackfillReport> {
  refuseForgedCarry(carry);
  const { workflowId } = workflowInfo();
  const backfill = new Backfill(input, carry);
  // Handlers first, so a query or signal that arrives during validation is answered, not lost.
  wireHandlers(backfill);
  let report: BackfillReport;
  try {
    report = await backfill.run();
  } catch (err) {
    // Continuing as new is no end, and a request refused at validation or preflight never ran;
    // any other failure (a refused overlap, an outage) is a backfill that did not succeed.
    if (!(err instanceof ContinueAsNew) && backfill.request) {
      const { featureGroup, featureVersion } = backfill.request;
      await recordOutcome({
        workflowId,
        featureGroup,
        featureVersion,
        status: isCancellation(err) ? 'cancelled' : 'failed',
        success: 0,
      });
    }
    throw err;
  }
  if (report.status !== 'dry_run') {
    const { featureGroup, featureVersion, status } = report;
    await recordOutcome({ workflowId, featureGroup, featureVersion, status, success: status === 'succeeded' ? 1 : 0 });
  }
  return report;
}

/** The operators' messages, each wired to the backfill's operation. */
function wireHandlers(backfill: Backfill): void {
  setHandler(progressQuery, (pageRequest) => backfill.progress(pageRequest));
  setHandler(pauseSignal, () => backfill.pause());
  setHandler(resumeSignal, () => backfill.resume());
  setHandler(setMaxConcurrentChunksUpdate, (value) => backfill.setMaxConcurrentChunks(value), {
    validator: checkMaxConcurrentChunks,
  });
  setHandler(retryFailedUpdate, () => backfill.retryFailed(), { validator: () => backfill.checkRetryFailed() });
}

/** Records how the backfill ended (even when cancelled); a failure to record only logs: the backfill's own outcome stands. */
async function recordOutcome(outcome: BackfillOutcome): Promise<void> {
  if (!patched(BACKFILL_PATCHES.outcomeMetric)) return; // histories from before the patch ended without it
  try {
    await CancellationScope.nonCancellable(() =>
      outcomes.recordBackfillOutcome.executeWithOptions(
        { summary: `record the outcome: ${outcome.status} (success ${outcome.success})` },
        [outcome],
      ),
    );
  } catch (err) {
    log.warn('could not record the backfill outcome for alarms', { error: rootMessage(err) });
  }
}
