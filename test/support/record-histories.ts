/**
 * Records workflow histories into test/histories/ for the replay test. Run it when workflow code
 * changes on purpose, and keep the old files: they are what running backfills look like.
 *   npx ts-node --transpile-only test/support/record-histories.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { backfillWorkflow, pauseSignal, progressQuery, resumeSignal, retryFailedUpdate } from '../../src/workflows';
import { fakeActivities, type FakeOptions } from './fake-activities';
import { createTimeSkippingEnv, ROOT, VENV_BIN, WORKFLOWS_PATH } from './temporal';

const OUT = path.join(ROOT, 'test', 'histories');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const env = await createTimeSkippingEnv();
  const label = process.argv[2] ?? new Date().toISOString().slice(0, 10);
  const base = {
    bucket: '/tmp/lake',
    startDate: '2025-10-01',
    endDate: '2025-10-05',
    chunkSizeDays: 2,
    maxConcurrentChunks: 2,
  };
  const scenarios: [
    string,
    Record<string, unknown>,
    FakeOptions,
    ((h: WorkflowHandle<typeof backfillWorkflow>) => Promise<void>)?,
  ][] = [
    ['succeeded', base, {}],
    [
      'chunk-failed',
      base,
      { failStep: { step: 'ingest', chunkId: '2025-10-03_2025-10-04', message: 'throttled for good' } },
    ],
    ['dry-run', { ...base, dryRun: true }, {}],
    [
      // A data failure of a 2-day chunk: its days run one by one, the second day fails again.
      'bisect',
      base,
      {
        failStep: {
          step: 'spark',
          chunkId: '2025-10-01_2025-10-02,2025-10-02_2025-10-02',
          message: 'bronze file x (dt=2025-10-02) cannot be read',
          type: 'BadBronzeInput',
        },
      },
    ],
    [
      'paused-retried',
      { ...base, maxConcurrentChunks: 1 },
      { stepMs: 100, failStep: { step: 'spark', chunkId: '2025-10-01_2025-10-02', message: 'EMR capacity', times: 1 } },
      async (h) => {
        await h.signal(pauseSignal);
        for (let i = 0; i < 100 && (await h.query(progressQuery)).totals.failed === 0; i++) await sleep(100);
        await h.executeUpdate(retryFailedUpdate);
        await h.signal(resumeSignal);
      },
    ],
    [
      // Cancelled while the first chunk's Spark step runs: the chunk refreshes the catalog, then ends.
      'cancelled-in-spark',
      base,
      { holdWhile: (step, chunk) => step === 'spark' && chunk.id === '2025-10-01_2025-10-02' },
      async (h) => {
        for (let i = 0; i < 100 && (await h.query(progressQuery)).totals.running === 0; i++) await sleep(100);
        await h.cancel();
      },
    ],
  ];
  fs.mkdirSync(OUT, { recursive: true });
  let n = 0;
  for (const [name, input, options, drive] of scenarios) {
    const fake = fakeActivities(options);
    const taskQueue = `record-${n++}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(backfillWorkflow, {
        args: [input],
        taskQueue,
        workflowId: `history-${name}`,
      });
      if (drive) await drive(handle);
      await handle.result().catch(() => undefined);
      // The Temporal CLI writes the proto JSON form that replay reads.
      const write = async (id: string, file: string) => {
        const json = execFileSync(path.join(VENV_BIN, 'temporal'), [
          'workflow',
          'show',
          '-w',
          id,
          '--output',
          'json',
          '--address',
          env.address,
        ]);
        fs.writeFileSync(path.join(OUT, file), json);
        // Replay needs the workflow id the history ran under (child ids derive from it).
        const indexFile = path.join(OUT, 'index.json');
        const index = fs.existsSync(indexFile) ? JSON.parse(fs.readFileSync(indexFile, 'utf8')) : {};
        index[file] = id;
        fs.writeFileSync(indexFile, JSON.stringify(index, null, 2) + '\n');
      };
      await write(`history-${name}`, `${label}-backfill-${name}.json`);
      if (!input.dryRun) await write(`history-${name}/chunk-2025-10-01_2025-10-02`, `${label}-chunk-${name}.json`);
    });
  }
  await env.teardown();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
