/**
 * A worker process with fake activities and the runtime of src/runtime.ts (as src/worker.ts), for
 * test/metrics.test.ts: the runtime (and its Prometheus exporter) is per process, and mocha's
 * process already has one. Settings from the environment: TEMPORAL_ADDRESS, TASK_QUEUE,
 * BACKFILL_METRICS_PORT, FAKE_OPTIONS (JSON of FakeOptions). Prints "ready" once polling.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { installWorkerRuntime } from '../../src/runtime';
import { fakeActivities } from './fake-activities';
import { WORKFLOWS_PATH } from './temporal';

async function main(): Promise<void> {
  if (!installWorkerRuntime()) throw new Error('BACKFILL_METRICS_PORT is not set');
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const fake = fakeActivities(JSON.parse(process.env.FAKE_OPTIONS ?? '{}'));
  const worker = await Worker.create({
    connection,
    taskQueue: process.env.TASK_QUEUE!,
    workflowsPath: WORKFLOWS_PATH,
    activities: fake.activities,
  });
  await worker.runUntil(async () => {
    console.log('ready');
    await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  });
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
