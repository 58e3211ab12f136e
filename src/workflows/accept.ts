/**
 * Input checks of the workflows the worker registers, before any activity: whoever can start a
 * workflow in the namespace can start any of them with input of their own (issue 21).
 */
import { ActivityFailure, ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { validateChunkInput, type CheckedChunkInput } from '../common/chunk-input';
import { FAILURE } from '../common/failures';
import type { BackfillRequest } from '../common/input';
import { refusingBadInput } from '../common/input-error';
import { allowedByDefault } from '../common/spark-conf';

/** The chunk workflow's input as checked, or the workflow fails (non-retryable InvalidInput) naming the field. */
export function acceptChunkInput(input: unknown): CheckedChunkInput {
  return refusingBadInput(() => validateChunkInput(input, Date.now()), 'chunk workflow');
}

/**
 * Whether the request needs the worker's own check (checkRequest activity) before the chunk's
 * steps: a job role (BACKFILL_ALLOWED_JOB_ROLES) or sparkConf keys beyond the allow list
 * (BACKFILL_ALLOW_SPARK_CONF). Everything else the workflow has checked itself.
 */
export function needsWorkerCheck(request: BackfillRequest): boolean {
  return request.emr !== undefined || Object.keys(request.sparkConf).some((key) => !allowedByDefault(key));
}

/** An activity's refusal of the input (InvalidInput) as the workflow's own failure; anything else as it is. */
export function refuse(err: unknown): never {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (cause instanceof ApplicationFailure && cause.type === FAILURE.invalidInput)
    throw ApplicationFailure.nonRetryable(
      `chunk workflow: ${cause.message}`,
      FAILURE.invalidInput,
      ...(cause.details ?? []),
    );
  throw err;
}

/**
 * The backfill's second argument carries a run's state to the next one and skips the request's
 * checks: it is accepted only in a run continued-as-new (the workflow id stays, and only our own
 * workflow code continues as new into backfillWorkflow). A start with it fails at once.
 */
export function refuseForgedCarry(carry: unknown): void {
  if (carry === undefined || carry === null) return;
  // A cron run or a workflow retry also names the run before it, but gets the first run's arguments again.
  const { continuedFromExecutionRunId, cronSchedule, attempt } = workflowInfo();
  if (continuedFromExecutionRunId && !cronSchedule && attempt === 1) return;
  throw ApplicationFailure.nonRetryable(
    'invalid input: the second argument (a continue-as-new carry) is accepted only from a run of this backfill ' +
      'continuing as new (not from a cron schedule or a workflow retry); start a backfill with its request alone',
    FAILURE.invalidInput,
    { field: 'carry' },
  );
}
