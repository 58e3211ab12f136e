/** A test worker with the real activities over given backends, as src/worker.ts registers them. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import type { Backends } from '../../src/activities/backends';
import { createLeaseActivities } from '../../src/activities/ledger';
import { WORKFLOWS_PATH } from './temporal';

export interface RunningWorker {
  /** Shuts the worker down and waits until it has stopped. */
  stop(): Promise<void>;
}

export async function startBackfillWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  backends: Backends,
): Promise<RunningWorker> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    // The overlap lease activities talk to Temporal through the test server's client.
    activities: {
      ...createActivities(backends),
      ...createLeaseActivities({ client: env.client, spark: backends.spark }),
    },
  });
  const running = worker.run();
  return {
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}
