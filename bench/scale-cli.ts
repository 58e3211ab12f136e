/**
 * The 20-year daily range end to end from the CLI: `backfill run --aws --no-follow` starts it on the
 * local dev server, a worker with instant fake activities serves the AWS task queue, and
 * `backfill status` pages through its chunks while it runs and prints the report at the end.
 * Last line: `scale cli: N/T succeeded, status pages: P` (goal: N = T = 7305).
 * Env: BENCH_START (2000-01-01), BENCH_END (2019-12-31), BENCH_CONCURRENCY (32).
 */
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { main } from '../src/client/cli';
import { DEFAULT_TASK_QUEUES } from '../src/config';
import { daysBetweenInclusive } from '../src/common/dates';
import { fakeActivities } from '../test/support/fake-activities';
import { fakeIo } from '../test/cli/support';
import { createDevServerEnv, WORKFLOWS_PATH } from '../test/support/temporal';

const deps = { pollMs: 1000 };

/** Runs one CLI command in this process, as `backfill <argv>` would; returns its exit code and output. */
async function cli(argv: string[]): Promise<{ rc: number; out: string; err: string }> {
  const io = fakeIo();
  const rc = await main(argv, io, deps);
  return { rc, out: io.stdout(), err: io.stderr() };
}

async function main_(): Promise<void> {
  const startDate = process.env.BENCH_START ?? '2000-01-01';
  const endDate = process.env.BENCH_END ?? '2019-12-31';
  const concurrency = process.env.BENCH_CONCURRENCY ?? '32';
  const total = daysBetweenInclusive(startDate, endDate);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = await createDevServerEnv();
  process.env.TEMPORAL_ADDRESS = env.address;
  try {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: DEFAULT_TASK_QUEUES.aws,
      workflowsPath: WORKFLOWS_PATH,
      activities: fakeActivities().activities,
    });
    await worker.runUntil(() => drive({ startDate, endDate, concurrency, total }));
  } finally {
    await env.teardown();
  }
}

async function drive(o: { startDate: string; endDate: string; concurrency: string; total: number }): Promise<void> {
  const started = Date.now();
  const run = await cli([
    'run',
    '--aws',
    '--no-follow',
    '--bucket',
    's3://bench-scale-lake',
    '--start-date',
    o.startDate,
    '--end-date',
    o.endDate,
    '--chunk-size-days',
    '1',
    '--max-concurrent-chunks',
    o.concurrency,
  ]);
  if (run.rc !== 0) throw new Error(`backfill run exited ${run.rc}: ${run.err}`);
  console.log(run.out);
  const workflowId = /backfill-\S+/.exec(run.out)?.[0];
  if (!workflowId) throw new Error(`no workflow id in: ${run.out}`);
  let pages = 0;
  for (;;) {
    // The pages an operator asks for while it runs: a middle page of all chunks, then the running ones.
    const page = await cli(['status', workflowId, '--chunks', 'all', '--offset', '3000', '--limit', '3']);
    const running = await cli(['status', workflowId, '--chunks', 'running', '--limit', '2']);
    if (page.rc !== 0 || running.rc !== 0) throw new Error(`backfill status failed: ${page.err}${running.err}`);
    if (!/: RUNNING/.test(page.out)) break;
    pages += 2;
    if (pages === 2 || pages % 40 === 0) console.log(`${page.out}\n${running.out}\n`);
    await new Promise((r) => setTimeout(r, 5000)); // an operator's pace, not a synchronisation
  }
  const final = await cli(['status', workflowId]);
  console.log(final.out.split('\n').slice(0, 12).join('\n'));
  const wall = (Date.now() - started) / 1000;
  const succeeded = Number(/total +(\d+)\/\d+ succeeded/.exec(final.out)?.[1] ?? 0);
  console.log(`wall: ${wall.toFixed(1)} s, ${(o.total / wall).toFixed(1)} chunks/s`);
  console.log(`scale cli: ${succeeded}/${o.total} succeeded, status pages: ${pages}`);
}

main_().catch((err) => {
  console.error(err);
  process.exit(1);
});
