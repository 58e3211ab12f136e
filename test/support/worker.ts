/** A test worker with the real activities over given backends, built as src/worker.ts builds every worker. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Backends } from '../../src/activities/backends';
import { createBackfillWorker } from '../../src/worker';

export interface RunningWorker {
  /** Shuts the worker down and waits until it has stopped. */
  stop(): Promise<void>;
}

export async function startBackfillWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  backends: Backends,
): Promise<RunningWorker> {
  const { worker } = await createBackfillWorker({
    taskQueue,
    activities: { backends },
    connection: { connection: env.nativeConnection, namespace: env.namespace ?? 'default' },
    // Tests stop their workers at once: an activity a failed test left running must not hold the next file.
    env: { ...process.env, BACKFILL_SHUTDOWN_GRACE_SECONDS: '0' },
  });
  const running = worker.run();
  return {
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}
