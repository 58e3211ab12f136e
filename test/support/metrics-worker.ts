/**
 * A worker process with fake activities, built as src/worker.ts builds every worker (its runtime,
 * metrics and JSON logs), for test/metrics.test.ts: the runtime (and its Prometheus exporter) is per
 * process, and mocha's process already has one. Settings from the environment: TEMPORAL_ADDRESS,
 * TASK_QUEUE, BACKFILL_METRICS_PORT, FAKE_OPTIONS (JSON of FakeOptions). Prints "ready" once polling.
 */
import { createBackfillWorker } from '../../src/worker';
import { fakeActivities } from './fake-activities';

async function main(): Promise<void> {
  const fake = fakeActivities(JSON.parse(process.env.FAKE_OPTIONS ?? '{}'));
  const built = await createBackfillWorker({
    taskQueue: process.env.TASK_QUEUE!,
    activities: { fake: fake.activities },
  });
  if (!built.metrics) throw new Error('BACKFILL_METRICS_PORT is not set');
  await built.worker.runUntil(async () => {
    console.log('ready');
    await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  });
  await built.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
