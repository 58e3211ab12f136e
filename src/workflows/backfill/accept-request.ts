/**
 * The backfill's request accepted: validated, checked by the backend's preflight, its job code
 * and publication plan fixed once for every chunk.
 */
import { ActivityFailure, ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { BackfillActivities } from '../../activities';
import { validateInput, WORKER_DECIDES, type BackfillInput, type BackfillRequest } from '../../common/input';
import { refusingBadInput } from '../../common/input-error';
import { planPublication, type PublicationFacts } from '../../common/publication-plan';
import type { DryRunPlan } from '../../common/results';
import { rootMessage } from '../../common/errors';
import { FAILURE } from '../../common/failures';
import { activitySummary } from '../ui';
import { backfillPriority } from '../priority';
import { BACKFILL_PATCHES } from './input';

const setup = proxyActivities<BackfillActivities>({
  startToCloseTimeout: '5 minutes',
  // Preflight and dry-run inspection only read; retry briefly, and never retry a bad request.
  retry: { maximumAttempts: 3, initialInterval: '2 seconds', nonRetryableErrorTypes: [FAILURE.invalidInput] },
});

/** Validation and the backend's preflight; a bad request fails here, before any work. */
export async function acceptRequest(input: BackfillInput): Promise<BackfillRequest> {
  // Restricted sparkConf keys are decided by the preflight activity, which reads the worker's settings.
  const request = refusingBadInput(() => validateInput(input, { now: Date.now(), allowSparkConf: WORKER_DECIDES }));
  let checked: Awaited<ReturnType<BackfillActivities['preflight']>>;
  try {
    checked = await setup.preflight.executeWithOptions(
      { summary: activitySummary.preflight(request), priority: backfillPriority(request) },
      [request],
    );
  } catch (err) {
    // The backend's verdict on the request becomes the workflow's own failure; anything else
    // (an outage outlasting the retries) fails the workflow as what it is.
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    if (
      cause instanceof ApplicationFailure &&
      (cause.type === FAILURE.invalidInput || cause.type === FAILURE.awsAccessDenied)
    ) {
      throw ApplicationFailure.nonRetryable(rootMessage(err), FAILURE.invalidInput);
    }
    throw err;
  }
  // The job code is fixed once per backfill: chunks keep it while a new version is deployed.
  const resolved = checked.jobCodeKey ? { ...request, jobCodeKey: checked.jobCodeKey } : request;
  return withPublicationPlan(resolved, checked.publication);
}

/** A dry run's plan: what a real run would do, read from the lake and the ledger. */
export function inspectLake(request: BackfillRequest): Promise<DryRunPlan> {
  return setup.inspectLake.executeWithOptions(
    { summary: activitySummary.inspectLake(request), priority: backfillPriority(request) },
    [request],
  );
}

/**
 * The request with its publication plan, fixed once at the workflow's (deterministic) time so every
 * chunk sends a day to the same stores however long the backfill runs. Histories from before the
 * patch have none: every day goes to both stores through the API, as then.
 */
function withPublicationPlan(request: BackfillRequest, facts: PublicationFacts | undefined): BackfillRequest {
  if (!patched(BACKFILL_PATCHES.targetStores)) return request;
  const plan = planPublication({ ...request, now: Date.now() }, facts ?? { sparkPublish: false });
  return { ...request, publication: plan };
}
