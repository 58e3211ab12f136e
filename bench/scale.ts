/**
 * Scale of the orchestration on the local dev server: a 20-year daily range (7,305 one-day chunks)
 * with instant fake activities. Prints chunks/s, the history events of the largest run and the
 * largest payload the SDK sent (from the histories of the backfill's runs: child inputs and
 * results, the continue-as-new carry, the report) and of the progress query's answers while it ran.
 * Last line: `scale chunks: N max payload KB: P` (goal: N = 7305, status succeeded, P < 256).
 * Env: BENCH_START (2000-01-01), BENCH_END (2019-12-31), BENCH_CONCURRENCY (32).
 */
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import { daysBetweenInclusive } from '../src/common/dates';
import type { ChunkPageRequest } from '../src/common/chunk-book';
import { backfillWorkflow, progressQuery } from '../src/workflows';
import { fakeActivities } from '../test/support/fake-activities';
import { largestPayloadOf, runHistories, type LargestPayload } from '../test/support/payloads';
import { createDevServerEnv, WORKFLOWS_PATH } from '../test/support/temporal';

const QUERIES: ChunkPageRequest[] = [
  {},
  { chunks: 'all', offset: 3000, limit: 200 },
  { chunks: 'recent', limit: 200 },
  { chunks: 'failed', limit: 200 },
];

async function main(): Promise<void> {
  const startDate = process.env.BENCH_START ?? '2000-01-01';
  const endDate = process.env.BENCH_END ?? '2019-12-31';
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
  const chunks = daysBetweenInclusive(startDate, endDate);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await createDevServerEnv();
  try {
    const fake = fakeActivities();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'bench-scale',
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    const input = { bucket: '/tmp/bench-lake', startDate, endDate, chunkSizeDays: 1, maxConcurrentChunks: concurrency };
    const workflowId = `bench-scale-${Date.now()}`;
    const started = Date.now();
    let query: LargestPayload = { bytes: 0, where: '-' };
    const { report, firstRunId } = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(backfillWorkflow, {
        args: [input],
        taskQueue: 'bench-scale',
        workflowId,
      });
      const done = handle.result();
      let finished = false;
      void done.finally(() => (finished = true)).catch(() => undefined);
      // Measure the query's answers while it runs (the answer is one payload, JSON as the SDK encodes it).
      while (!finished) {
        for (const page of QUERIES) {
          const answer = await handle.query(progressQuery, page).catch(() => undefined);
          const bytes = answer ? (defaultPayloadConverter.toPayload(answer).data?.length ?? 0) : 0;
          if (bytes > query.bytes) query = { bytes, where: `progress query ${JSON.stringify(page)}` };
        }
        await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
      }
      return { report: await done, firstRunId: handle.firstExecutionRunId };
    });
    const wall = (Date.now() - started) / 1000;
    const runs = await runHistories(env.client, workflowId, firstRunId);
    const history = runs.map((events) => largestPayloadOf(events)).reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const largest = history.bytes > query.bytes ? history : query;
    const kb = largest.bytes / 1024;
    console.log(
      `range: ${startDate} .. ${endDate}, ${chunks} one-day chunks, concurrency: ${concurrency}, status: ${report.status}`,
    );
    console.log(`wall: ${wall.toFixed(1)} s, ${(chunks / wall).toFixed(1)} chunks/s, runs: ${runs.length}`);
    console.log(`history events of the largest run: ${Math.max(...runs.map((r) => r.length))}`);
    console.log(`largest payload in the histories: ${(history.bytes / 1024).toFixed(1)} KB (${history.where})`);
    console.log(`largest query answer: ${(query.bytes / 1024).toFixed(1)} KB (${query.where})`);
    console.log(`largest payload: ${kb.toFixed(1)} KB (${largest.where})`);
    console.log(`scale chunks: ${report.totals.succeeded} max payload KB: ${Math.ceil(kb)}`);
  } finally {
    // The dev server is a child process: stop it even when the run fails.
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
