/**
 * status, list, pause, resume, set-concurrency, cancel and retry-failed against a real Temporal dev
 * server. Backfills run on a test worker with activities that do no I/O (and can be told to fail);
 * the CLI drives them through main() like an operator would.
 */
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { main } from '../../src/client/cli';
import type { BackfillReport } from '../../src/common/results';
import { backfillWorkflowId } from '../../src/common/workflow-id';
import { progressQuery, type BackfillProgress } from '../../src/workflows/api';
import { fakeActivities, type FakeOptions } from '../support/fake-activities';
import { createDevServerEnv, WORKFLOWS_PATH } from '../support/temporal';
import { fakeIo } from './support';

const TASK_QUEUE = 'cli-control';
const deps = { pollMs: 100 };

describe('cli: controlling backfills (dev server, fake activities)', function () {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let savedAddress: string | undefined;
  // Read by the fake activities at each call: a test changes them while a backfill runs.
  const options: FakeOptions = { stepMs: 150 };

  before(async () => {
    env = await createDevServerEnv();
    savedAddress = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = env.address;
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: WORKFLOWS_PATH,
      activities: fakeActivities(options).activities,
    });
    running = worker.run();
  });

  after(async () => {
    if (savedAddress === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = savedAddress;
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  /** Starts a backfill the way `backfill run --aws` would, under the id its flags make up. */
  async function start(featureGroup: string, days: number, extra: Record<string, unknown> = {}) {
    const input = {
      // An S3 lake: retry-failed then hosts no local worker; the test worker serves the queue.
      bucket: 's3://fake-lake',
      startDate: '2025-10-01',
      endDate: `2025-10-${String(days).padStart(2, '0')}`,
      chunkSizeDays: 1,
      featureGroup,
      maxConcurrentChunks: 1,
      ...extra,
    };
    const workflowId = backfillWorkflowId({
      featureGroup,
      featureVersion: 'v1',
      startDate: input.startDate,
      endDate: input.endDate,
      dryRun: false,
    });
    const handle = await env.client.workflow.start('backfillWorkflow', {
      args: [input],
      taskQueue: TASK_QUEUE,
      workflowId,
    });
    return {
      handle,
      workflowId,
      flags: ['--feature-group', featureGroup, '--start-date', input.startDate, '--end-date', input.endDate],
    };
  }

  async function until(
    handle: WorkflowHandle,
    test: (p: BackfillProgress) => boolean,
    what: string,
  ): Promise<BackfillProgress> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const p = await handle.query(progressQuery).catch(() => undefined);
      if (p && test(p)) return p;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(p?.totals)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('status shows a running backfill; pause stops new chunks; set-concurrency and resume let it finish', async () => {
    const { handle, workflowId, flags } = await start('fg_pause', 6);
    await until(handle, (p) => p.totals.succeeded >= 1, 'a first chunk');

    let io = fakeIo();
    assert.equal(await main(['status', workflowId], io, deps), 0, io.stderr());
    assert.match(io.stdout(), new RegExp(`^Backfill ${workflowId}: RUNNING`));
    assert.match(io.stdout(), /\[#*\.*\] \d\/6 chunks \(\d ok, 0 failed, 1 running\)/);
    assert.match(io.stdout(), /2025-10-01_2025-10-01 +succeeded +10 +10/);
    assert.match(io.stdout(), /at most 1 chunk\(s\) at once/);

    io = fakeIo();
    assert.equal(await main(['pause', ...flags], io, deps), 0, io.stderr());
    assert.equal(io.stdout(), `pause requested: ${workflowId}`);
    const paused = await until(handle, (p) => p.paused && p.totals.running === 0, 'the running chunk to finish');

    // Raising the bound is an update: once it has completed, the workflow has run the task in which
    // an unpaused backfill would have started chunks. None started, so pause holds them back.
    io = fakeIo();
    assert.equal(await main(['set-concurrency', workflowId, '--max-concurrent-chunks', '3'], io, deps), 0, io.stderr());
    assert.equal(io.stdout(), `max concurrent chunks of ${workflowId}: 3`);
    const later = await handle.query(progressQuery);
    assert.equal(later.maxConcurrentChunks, 3);
    assert.equal(later.totals.running, 0, 'no chunk started while paused');
    assert.equal(later.totals.succeeded, paused.totals.succeeded);
    assert.ok(later.totals.pending > 0);

    io = fakeIo();
    assert.equal(await main(['status', '--json', workflowId], io, deps), 0);
    const status = JSON.parse(io.stdout()) as BackfillProgress;
    assert.equal(status.status, 'paused');
    assert.equal(status.paused, true);

    io = fakeIo();
    assert.equal(await main(['resume', workflowId], io, deps), 0, io.stderr());
    assert.equal(io.stdout(), `resume requested: ${workflowId}`);
    const report = (await handle.result()) as BackfillReport;
    assert.equal(report.status, 'succeeded');

    io = fakeIo();
    assert.equal(await main(['status', ...flags], io, deps), 0);
    assert.match(io.stdout(), new RegExp(`^Backfill ${workflowId}: SUCCEEDED`));
    assert.match(io.stdout(), /total +6\/6 succeeded +60 +60/);

    io = fakeIo();
    assert.equal(await main(['pause', workflowId], io, deps), 2);
    assert.match(io.stderr(), /is not running \(COMPLETED\): nothing to pause; see backfill status/);
  });

  it('status --follow on a terminal draws the progress bar, then prints the report', async () => {
    const { handle, workflowId } = await start('fg_follow', 3);
    const io = fakeIo(true);
    assert.equal(await main(['status', '--follow', workflowId], io, deps), 0, io.stderr());
    assert.ok(
      io.statusLines.some((l) =>
        /^running \[[#.]+\] \d\/3 chunks \(\d ok, 0 failed, \d running\) \| \S+ elapsed, ETA .* \| \d+ rows, \d+ records$/.test(
          l,
        ),
      ),
      io.statusLines.join('\n'),
    );
    assert.equal(io.statusLines.at(-1), '', 'the bar is cleared before the report');
    // On a terminal chunk events are plain lines above the bar (no timestamp).
    assert.ok(
      io.errLines.some((l) => /^chunk 2025-10-03_2025-10-03 succeeded in \d+s: 10 rows, 10 records$/.test(l)),
      io.stderr(),
    );
    assert.match(io.stdout(), new RegExp(`^Backfill ${workflowId}: SUCCEEDED`));
    assert.equal(((await handle.result()) as BackfillReport).status, 'succeeded');
  });

  it('list shows recent backfills filtered by the search attributes', async () => {
    const { handle, workflowId } = await start('fg_list', 2);
    await handle.result();
    let io = fakeIo();
    assert.equal(await main(['list', '--feature-group', 'fg_list'], io, deps), 0, io.stderr());
    const lines = io.stdout().split('\n');
    assert.match(lines[0], /^WORKFLOW ID +STATUS +CHUNKS +STARTED +CLOSED$/);
    assert.equal(lines.length, 2);
    assert.match(
      lines[1],
      new RegExp(`^${workflowId} +succeeded +2/2 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ +\\d{4}`),
    );

    io = fakeIo();
    assert.equal(
      await main(['list', '--json', '--status', 'succeeded', '--feature-version', 'v1', '--limit', '50'], io, deps),
      0,
    );
    const listed = JSON.parse(io.stdout()) as { workflowId: string; status: string; chunksTotal: number }[];
    assert.ok(listed.some((b) => b.workflowId === workflowId && b.chunksTotal === 2));
    assert.ok(listed.every((b) => b.status === 'succeeded'));
    assert.ok(!listed.some((b) => b.workflowId.includes('/chunk-')), 'chunk workflows are not listed');

    io = fakeIo();
    assert.equal(await main(['list', '--feature-group', 'no_such_group'], io, deps), 0);
    assert.match(io.stdout(), /^no backfills match/);
  });

  it('cancel --wait winds a backfill down and prints its report; retry-failed runs the rest', async () => {
    const { handle, workflowId, flags } = await start('fg_cancel', 5);
    await until(handle, (p) => p.totals.succeeded >= 1 && p.totals.running === 1, 'the second chunk');

    let io = fakeIo();
    assert.equal(await main(['cancel', '--wait', workflowId], io, deps), 0, io.stderr());
    assert.match(io.stdout(), new RegExp(`^cancellation requested: ${workflowId}\nBackfill ${workflowId}: CANCELLED`));
    const cancelled = (await handle.result()) as BackfillReport;
    assert.equal(cancelled.status, 'cancelled');
    const done = cancelled.chunks.filter((c) => c.status === 'succeeded').map((c) => c.chunk.id);
    const rest = cancelled.chunks.filter((c) => c.status !== 'succeeded').map((c) => c.chunk.id);
    assert.ok(done.length >= 1 && rest.length >= 1, JSON.stringify(cancelled.chunks.map((c) => c.status)));

    io = fakeIo();
    assert.equal(await main(['status', workflowId], io, deps), 1, 'a cancelled backfill did not succeed');

    io = fakeIo();
    assert.equal(await main(['retry-failed', ...flags], io, deps), 0, io.stderr());
    assert.match(
      io.stderr(),
      new RegExp(`retrying ${rest.length} chunk\\(s\\) of ${workflowId} \\(cancelled\\): ${rest.join(', ')}`),
    );
    assert.match(io.stdout(), new RegExp(`^Backfill ${workflowId}: SUCCEEDED`));
    const retried = (await env.client.workflow.getHandle(workflowId).result()) as BackfillReport;
    assert.deepEqual(
      retried.chunks.map((c) => c.chunk.id),
      rest,
      'only the chunks that had not succeeded ran again',
    );

    io = fakeIo();
    assert.equal(await main(['retry-failed', workflowId], io, deps), 0);
    assert.equal(io.stdout(), `nothing to retry: every chunk of ${workflowId} succeeded`);

    io = fakeIo();
    assert.equal(await main(['cancel', workflowId], io, deps), 2);
    assert.match(io.stderr(), /is not running \(COMPLETED\): nothing to cancel/);
  });

  it('retry-failed on an ended backfill with a failed chunk runs that chunk again and exits 0 once it succeeds', async () => {
    options.failStep = { step: 'ingest', chunkId: '2025-10-02_2025-10-02', message: 'feature group rt_x not found' };
    const { handle, workflowId } = await start('fg_retry_ended', 3);
    const first = (await handle.result()) as BackfillReport;
    assert.equal(first.status, 'partially_failed');

    let io = fakeIo();
    assert.equal(await main(['status', workflowId], io, deps), 1, 'a partly failed backfill');
    assert.match(io.stdout(), /2025-10-02_2025-10-02: failed at ingest: feature group rt_x not found/);
    assert.match(io.stdout(), new RegExp(`Run the failed chunks again: backfill retry-failed ${workflowId}`));

    // Still failing: the retry reports it and exits 1.
    io = fakeIo();
    assert.equal(await main(['retry-failed', workflowId], io, deps), 1);
    assert.match(io.stdout(), new RegExp(`^Backfill ${workflowId}: FAILED`));

    options.failStep = undefined; // the cause is fixed
    io = fakeIo();
    assert.equal(await main(['retry-failed', workflowId, '--json'], io, deps), 0, io.stderr());
    const report = JSON.parse(io.stdout()) as BackfillReport;
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(
      report.chunks.map((c) => c.chunk.id),
      ['2025-10-02_2025-10-02'],
    );
  });

  it('retry-failed on a running backfill queues its failed chunks again (retryFailed update) and follows it', async () => {
    options.failStep = { step: 'spark', chunkId: '2025-10-01_2025-10-01', message: 'EMR job run FAILED: OOM' };
    const { handle, workflowId } = await start('fg_retry_running', 5);
    await until(handle, (p) => p.totals.failed === 1 && p.totals.pending >= 2, 'the first chunk to fail');
    options.failStep = undefined;

    const io = fakeIo();
    assert.equal(await main(['retry-failed', workflowId], io, deps), 0, io.stderr());
    assert.ok(io.errLines.includes(`queued again in ${workflowId}: 2025-10-01_2025-10-01`), io.stderr());
    assert.match(io.stderr(), /chunk 2025-10-01_2025-10-01 started \(attempt 2\)/);
    const report = (await handle.result()) as BackfillReport;
    assert.equal(report.status, 'succeeded');
    assert.equal(report.chunks[0].attempts, 2);
    assert.match(io.stdout(), /2025-10-01_2025-10-01 +succeeded +10 +10 +\S+ +2 +passed/);
  });

  it('retry-failed on a backfill past its chunks (releasing its lease) waits for its end, then runs the failed chunk again', async () => {
    let holding = true;
    options.failStep = { step: 'spark', chunkId: '2025-10-01_2025-10-01', message: 'EMR job run FAILED: OOM' };
    options.holdRelease = () => holding;
    const { handle, workflowId } = await start('fg_retry_late', 1);
    try {
      await until(
        handle,
        (p) => p.totals.failed === 1 && p.totals.running === 0 && p.totals.pending === 0,
        'the chunk failed',
      );
      options.failStep = undefined;
      const io = fakeIo();
      const exit = main(['retry-failed', workflowId], io, deps);
      const started = Date.now();
      while (!io.stderr().includes('is ending') && Date.now() - started < 30_000)
        await new Promise((r) => setTimeout(r, 50));
      assert.match(io.stderr(), new RegExp(`${workflowId} has finished its chunks and is ending; waiting for its end`));
      holding = false;
      assert.equal(await exit, 0, io.stderr());
      const ended = (await handle.result()) as BackfillReport;
      assert.equal(ended.status, 'failed', 'the first run ended with its chunk failed, not pending');
      assert.deepEqual(
        ended.chunks.map((c) => c.status),
        ['failed'],
      );
      const rerun = (await env.client.workflow.getHandle(workflowId).result()) as BackfillReport;
      assert.equal(rerun.status, 'succeeded');
      assert.deepEqual(
        rerun.chunks.map((c) => c.chunk.id),
        ['2025-10-01_2025-10-01'],
      );
    } finally {
      holding = false;
      options.holdRelease = undefined;
    }
  });

  it('names what to change for an unknown id or a chunk workflow', async () => {
    let io = fakeIo();
    assert.equal(await main(['status', 'backfill-nope'], io, deps), 2);
    assert.match(io.stderr(), /no backfill with id "backfill-nope" in namespace default; find it with backfill list/);
    const { handle, workflowId } = await start('fg_child', 1);
    await handle.result();
    io = fakeIo();
    assert.equal(await main(['status', `${workflowId}/chunk-2025-10-01_2025-10-01`], io, deps), 2);
    assert.match(io.stderr(), /is a chunkWorkflow, not a backfill/);
  });
});
