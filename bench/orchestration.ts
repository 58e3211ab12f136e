/**
 * Orchestration overhead on the local dev server: N one-day chunks whose Spark step takes T
 * seconds (the other steps are instant), at most C in flight. Prints wall time, the ideal N*T/C
 * and their ratio. Env: BENCH_CHUNKS (365), BENCH_STEP_MS (1000), BENCH_CONCURRENCY (8).
 */
import { Worker } from '@temporalio/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { addDays } from '../src/common/dates';
import { backfillWorkflow } from '../src/workflows';
import { fakeActivities } from '../test/support/fake-activities';
import { createDevServerEnv, WORKFLOWS_PATH } from '../test/support/temporal';

async function main(): Promise<void> {
  const chunks = Number(process.env.BENCH_CHUNKS ?? 365);
  const stepMs = Number(process.env.BENCH_STEP_MS ?? 1000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await createDevServerEnv();
  const fake = fakeActivities();
  const slowSpark = fake.activities.runSparkJob;
  // Only the Spark step takes time, as in a real backfill where it dominates.
  fake.activities.runSparkJob = async (request, chunk, runName) => {
    await new Promise((r) => setTimeout(r, stepMs));
    return slowSpark(request, chunk, runName);
  };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'bench-orchestration',
    workflowsPath: WORKFLOWS_PATH,
    activities: fake.activities,
  });
  const input = {
    bucket: '/tmp/bench-lake',
    startDate: '2024-01-01',
    endDate: addDays('2024-01-01', chunks - 1),
    chunkSizeDays: 1,
    maxConcurrentChunks: concurrency,
  };
  const started = Date.now();
  let report: Awaited<ReturnType<typeof backfillWorkflow>>;
  let wall: number;
  try {
    report = await worker.runUntil(
      env.client.workflow.execute(backfillWorkflow, {
        args: [input],
        taskQueue: 'bench-orchestration',
        workflowId: `bench-${started}`,
      }),
    );
    wall = (Date.now() - started) / 1000;
  } finally {
    // The dev server is a child process: stop it even when the run fails, or it lingers and loads later runs.
    await env.teardown();
  }
  const ideal = (chunks * stepMs) / 1000 / concurrency;
  console.log(`chunks: ${chunks}, step: ${stepMs} ms, concurrency: ${concurrency}, status: ${report.status}`);
  console.log(`wall: ${wall.toFixed(1)} s, ideal: ${ideal.toFixed(1)} s`);
  console.log(`orchestration wall/ideal: ${(wall / ideal).toFixed(3)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
