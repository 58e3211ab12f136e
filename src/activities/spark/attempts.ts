/**
 * The Spark activity's failure budget, kept in its heartbeat details instead of the server's attempt
 * count: each deploy (a worker shutdown, which leaves the job run going) used to spend one of three
 * attempts, so three deploys during one long EMR run failed the chunk while the run went on (issue
 * 20 item 6). The retry policy now allows many attempts; the activity counts only real failures and
 * gives up, non-retryably, after MAX_SPARK_FAILURES of them.
 */
import { ApplicationFailure, CancelledFailure, type Context } from '@temporalio/activity';
import { FAILURE } from '../../common/failures';
import type { JobHandle } from '../backends';

/** A failed job is usually capacity or a transient fault; after 3 failed attempts it needs a human. */
export const MAX_SPARK_FAILURES = 3;

/** What the Spark activity heartbeats: the run's handle, the settings it was submitted with, the real failures so far. */
export type SparkHeartbeat = Partial<JobHandle> & { sparkConf?: Record<string, string>; failures?: number };

/** One attempt of the Spark activity: what the earlier ones left, and its heartbeats, which carry the count on. */
export class SparkAttempt {
  /** The details the earlier attempt heartbeat last. */
  readonly prior: SparkHeartbeat;
  private last: SparkHeartbeat;

  constructor(private readonly ctx: Context) {
    this.prior = { ...(ctx.info.heartbeatDetails as SparkHeartbeat | undefined) };
    this.last = { failures: this.failures };
  }

  /** Real failures of the earlier attempts. */
  get failures(): number {
    // Heartbeat details can be written by anyone with namespace access: a count is a whole number from 0.
    const n = this.prior.failures;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0;
  }

  /** The run an earlier attempt started, to follow instead of submitting. */
  get previousRun(): JobHandle | undefined {
    return this.prior.backend && this.prior.id ? (this.prior as JobHandle) : undefined;
  }

  heartbeat(details: JobHandle & { sparkConf?: Record<string, string> }): void {
    this.last = { ...details, failures: this.failures };
    this.ctx.heartbeat(this.last);
  }

  /**
   * Runs the attempt. A real failure is counted in the last heartbeat (a server from 1.16 on hands it to the
   * next attempt with the failure) and after MAX_SPARK_FAILURES becomes non-retryable; a worker
   * shutdown, a cancellation and a failure already final are passed on uncounted.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (!countsAsFailure(err)) throw err;
      const failures = this.failures + 1;
      this.ctx.heartbeat({ ...this.last, failures });
      if (failures < MAX_SPARK_FAILURES) throw err;
      const failure = err instanceof ApplicationFailure ? err : undefined;
      throw ApplicationFailure.create({
        message: `${(err as Error).message} (attempt ${failures} of ${MAX_SPARK_FAILURES} that failed; a worker shutdown is not counted)`,
        type: failure?.type ?? FAILURE.sparkJobFailed,
        nonRetryable: true,
        details: failure?.details ?? undefined,
        cause: err instanceof Error ? err : undefined,
      });
    }
  }
}

function countsAsFailure(err: unknown): boolean {
  if (err instanceof CancelledFailure) return false;
  if (err instanceof ApplicationFailure) return !err.nonRetryable && err.type !== FAILURE.workerShutdown;
  return true;
}
