/**
 * Following a Spark job run to its end: one loop for the runSparkJob activity (heartbeats, the
 * activity's cancellable sleep) and `backfill run --direct-emr` (progress lines, Ctrl-C).
 */
import type { JobHandle, JobStatus, SparkRunner } from '../backends';

/** A run in one of these states can no longer write. */
export function hasEnded(state: JobStatus['state']): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

export interface FollowJobInput {
  spark: Pick<SparkRunner, 'status'>;
  handle: JobHandle;
  /** Waits between two reads of the run's state; rejects to stop following (a cancellation). */
  wait: () => Promise<void>;
  /** Sees every state read: a heartbeat, a progress line. */
  onStatus?: (status: JobStatus) => void;
}

/** Reads the run's state until it has ended and returns that state (succeeded, failed or cancelled). */
export async function followJob({ spark, handle, wait, onStatus }: FollowJobInput): Promise<JobStatus> {
  for (;;) {
    const status = await spark.status(handle);
    onStatus?.(status);
    if (hasEnded(status.state)) return status;
    await wait();
  }
}
