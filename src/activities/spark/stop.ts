/**
 * What runSparkJob does when its attempt is cancelled. Only an operator's cancellation (the
 * backfill or chunk workflow was cancelled) stops the job run, and waits until it has stopped.
 * A worker shutting down (a deploy, a scale-in) leaves the run going and fails the attempt, so
 * the retry on another worker follows the same run (heartbeat details, then the client token).
 */
import { ApplicationFailure, CancelledFailure, type Context } from '@temporalio/activity';
import { FAILURE } from '../../common/failures';
import type { ChunkSpec } from '../../common/plan';
import type { JobHandle, SparkRunner } from '../backends';

/** Why the attempt was cancelled, from the SDK's cancellation details and reason. */
function cancelCause(ctx: Context): 'operator' | 'worker-shutdown' | 'other' {
  const details = ctx.cancellationDetails;
  const reason = (ctx.cancellationSignal.reason as Error | undefined)?.message;
  // The SDK cancels running activities with reason WORKER_SHUTDOWN when the worker stops.
  if (details?.workerShutdown || reason === 'WORKER_SHUTDOWN') return 'worker-shutdown';
  if (details?.cancelRequested || reason === 'CANCELLED') return 'operator';
  // TIMED_OUT, NOT_FOUND, PAUSED, RESET: the server has moved on; a later attempt may follow the run.
  return 'other';
}

/** The error the cancelled attempt ends with, after stopping the run or leaving it to the next attempt. */
export async function stopOrDetach(
  ctx: Context,
  spark: SparkRunner,
  handle: JobHandle,
  chunk: ChunkSpec,
  err: unknown,
): Promise<unknown> {
  const cause = cancelCause(ctx);
  if (cause === 'operator') {
    // Heartbeat while waiting: the server still times the attempt out on its heartbeat timeout.
    const final = await spark.cancel(handle, { onPoll: () => ctx.heartbeat(handle) });
    const detail = final.detail ? `: ${final.detail}` : '';
    ctx.log.info('spark job cancelled', { chunk: chunk.id, jobRunId: handle.id, state: final.state });
    // A CancelledFailure, so the attempt is reported cancelled; its message says how the run ended.
    return new CancelledFailure(
      `Spark job ${handle.id} of chunk ${chunk.id} cancelled; the run ended ${final.state}${detail}`,
      [{ jobRunId: handle.id, state: final.state, detail: final.detail, logLocation: handle.logLocation }],
    );
  }
  if (!spark.runsOutliveWorker) {
    // A local run dies with its worker anyway: stop it now rather than leave an orphan writing.
    await spark.cancel(handle);
    return err;
  }
  if (cause === 'worker-shutdown') {
    ctx.log.info('worker shutting down: leaving the spark job running', { chunk: chunk.id, jobRunId: handle.id });
    // Retryable, so the next attempt (on another worker) reattaches to the same run; at once, not
    // after the policy's interval for failed jobs: the run goes on, only the follower is gone.
    return ApplicationFailure.create({
      message: `worker shut down while Spark job ${handle.id} of chunk ${chunk.id} ran; the run goes on and the next attempt follows it`,
      type: FAILURE.workerShutdown,
      details: [{ jobRunId: handle.id, logLocation: handle.logLocation }],
      nextRetryDelay: '1 second',
    });
  }
  return err;
}
