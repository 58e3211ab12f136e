/**
 * The overlap guard on a real Temporal dev server: the lease workflow and its activities are the
 * real ones, their Spark runner the real EMR one over the EMR double; the rest of the backfill runs
 * on fake activities, held running while a test looks.
 */
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { EmrServerlessRunner } from '../src/activities/aws/emr';
import { createLeaseActivities } from '../src/activities/ledger';
import { lakeLeaseWorkflowId } from '../src/activities/ledger/lease-key';
import { main } from '../src/client/cli';
import type { BackfillReport } from '../src/common/results';
import { backfillWorkflowId } from '../src/common/workflow-id';
import { backfillWorkflow, progressQuery, type BackfillProgress } from '../src/workflows';
import {
  acquireLeaseUpdate,
  leaseHoldersQuery,
  leaseWorkflowId,
  releaseLeaseUpdate,
  type LeaseHolder,
} from '../src/common/lease';
import { backfillLeaseWorkflow } from '../src/workflows/lease';
import { EmrDouble } from './aws/emr-double';
import { awsRequest, JOB_ROLE } from './aws/support';
import { fakeIo } from './cli/support';
import { fakeActivities, type FakeOptions } from './support/fake-activities';
import { createDevServerEnv, WORKFLOWS_PATH } from './support/temporal';

const TASK_QUEUE = 'overlap';
const deps = { pollMs: 100 };
const LAKE = 's3://fake-lake';
const EMR = { appId: 'app-lease', jobRole: JOB_ROLE };

describe('overlap guard (dev server, real lease, fake chunk activities)', function () {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let emr: EmrDouble;
  let running: Promise<void>;
  let savedAddress: string | undefined;
  // Chunks of the backfills in `held` (group, version, start) wait at spark until the test lets them go.
  const held = new Set<string>();
  const key = (r: { featureGroup?: string; featureVersion?: string; startDate?: string }) =>
    `${r.featureGroup} ${r.featureVersion} ${r.startDate}`;
  const options: FakeOptions = {
    holdWhile: (step, _chunk, request) => step === 'spark' && held.has(key(request ?? {})),
  };
  const fake = fakeActivities(options);

  before(async () => {
    emr = new EmrDouble();
    await emr.start();
    emr.applications.set(EMR.appId, { state: 'STARTED', type: 'SPARK' });
    env = await createDevServerEnv();
    savedAddress = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = env.address;
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: WORKFLOWS_PATH,
      activities: {
        ...fake.activities,
        ...createLeaseActivities({
          client: env.client,
          spark: new EmrServerlessRunner(emr.client()),
          pollIntervalMs: 100,
          waitSliceMs: 2000,
        }),
      },
    });
    running = worker.run();
  });

  after(async () => {
    if (savedAddress === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = savedAddress;
    worker?.shutdown();
    await running;
    await env?.teardown();
    await emr?.stop();
  });

  const input = (featureGroup: string, startDate: string, endDate: string, extra: Record<string, unknown> = {}) => ({
    bucket: LAKE,
    startDate,
    endDate,
    chunkSizeDays: 1,
    featureGroup,
    maxConcurrentChunks: 1,
    ...extra,
  });

  /** Starts a backfill under the id the CLI would give it. */
  async function start(raw: ReturnType<typeof input>): Promise<WorkflowHandle<typeof backfillWorkflow>> {
    const workflowId = backfillWorkflowId({ featureVersion: 'v1', dryRun: false, ...raw });
    return env.client.workflow.start(backfillWorkflow, { args: [raw], taskQueue: TASK_QUEUE, workflowId });
  }

  async function until<T>(look: () => Promise<T | undefined>, what: string): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = await look().catch(() => undefined);
      if (seen !== undefined) return seen;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const progressWhen = (handle: WorkflowHandle, test: (p: BackfillProgress) => boolean, what: string) =>
    until(async () => {
      const p = await handle.query(progressQuery);
      return test(p) ? p : undefined;
    }, what);

  /** A backfill holding its lease, its first chunk held at spark. */
  async function holding(
    featureGroup: string,
    startDate: string,
    endDate: string,
    extra: Record<string, unknown> = {},
  ) {
    held.add(key({ featureGroup, featureVersion: 'v1', startDate }));
    const sparkCalls = () => fake.calls.filter((c) => c.step === 'spark').length;
    const before = sparkCalls();
    const handle = await start(input(featureGroup, startDate, endDate, extra));
    await until(async () => (sparkCalls() > before ? true : undefined), `${handle.workflowId} to reach spark`);
    return { handle, let: () => held.delete(key({ featureGroup, featureVersion: 'v1', startDate })) };
  }

  /** The holders of the (lake, v1) lease. */
  const holders = (lake = LAKE) =>
    env.client.workflow.getHandle(lakeLeaseWorkflowId(lake, 'v1')).query(leaseHoldersQuery);

  /** How the refused backfill's workflow failed. */
  async function refusal(handle: WorkflowHandle): Promise<string> {
    const error = await handle.result().then(
      (report) => assert.fail(`${handle.workflowId} ran: ${JSON.stringify(report)}`),
      (err: { cause?: { type?: string; message?: string } }) => err,
    );
    assert.equal(error.cause?.type, 'BackfillOverlap', String(error));
    return error.cause?.message ?? '';
  }

  it('refuses an overlapping backfill (naming the running one and the shared days); others run side by side', async () => {
    const first = await holding('fg_refuse', '2025-10-01', '2025-10-04');
    const sparkBefore = fake.calls.filter((c) => c.step === 'spark').length;

    // Overlapping, same group and version: refused at start, through the CLI (exit 2).
    const io = fakeIo();
    const code = await main(
      [
        'run',
        '--aws',
        '--task-queue',
        TASK_QUEUE,
        '--bucket',
        's3://fake-lake',
        '--feature-group',
        'fg_refuse',
        '--start-date',
        '2025-10-02',
        '--end-date',
        '2025-10-05',
        '--max-concurrent-chunks',
        '1',
        '--chunk-size-days',
        '1',
      ],
      io,
      deps,
    );
    assert.equal(code, 2, io.stderr());
    assert.match(
      io.stderr(),
      new RegExp(
        `refused: days 2025-10-02\\.\\.2025-10-04 of fg_refuse v1 are being backfilled by ${first.handle.workflowId} \\(group fg_refuse, days 2025-10-02\\.\\.2025-10-04\\)`,
      ),
    );
    assert.match(io.stderr(), /--wait-for-overlap/);
    assert.equal(fake.calls.filter((c) => c.step === 'spark').length, sparkBefore, 'the refused backfill ran no chunk');

    // Not overlapping (same group), or another lake or version with the same days: they run.
    const beside = await start(input('fg_refuse', '2025-10-05', '2025-10-06'));
    const otherGroup = await start(input('fg_refuse_other', '2025-10-01', '2025-10-04', { bucket: 's3://other-lake' }));
    const otherVersion = await start(input('fg_refuse', '2025-10-01', '2025-10-04', { featureVersion: 'v2' }));
    for (const h of [beside, otherGroup, otherVersion])
      assert.equal(((await h.result()) as BackfillReport).status, 'succeeded', h.workflowId);
    assert.deepEqual(
      (await holders()).map((h) => h.holder),
      [first.handle.workflowId],
      'only the held one still holds days',
    );

    first.let();
    assert.equal(((await first.handle.result()) as BackfillReport).status, 'succeeded');
    assert.deepEqual(await holders(), [], 'the lease is given back at the end');
  });

  it('one version in one lake has one writer per day, whatever the feature group; another lake runs beside it', async () => {
    const first = await holding('fg_gold_a', '2025-09-01', '2025-09-04');
    const sparkBefore = fake.calls.filter((c) => c.step === 'spark').length;

    // Same version and lake (however the bucket is spelled), another group, overlapping days: refused.
    for (const bucket of [LAKE, 'fake-lake', 's3://fake-lake/']) {
      const other = await start(input('fg_gold_b', '2025-09-03', '2025-09-05', { bucket }));
      assert.match(
        await refusal(other),
        new RegExp(
          `^days 2025-09-03\\.\\.2025-09-04 of fg_gold_b v1 are being backfilled by ${first.handle.workflowId} \\(group fg_gold_a, days 2025-09-03\\.\\.2025-09-04\\)`,
        ),
      );
    }
    assert.equal(
      fake.calls.filter((c) => c.step === 'spark').length,
      sparkBefore,
      'the refused backfills ran no chunk',
    );

    // Another lake: its gold is its own.
    const elsewhere = await start(input('fg_gold_b', '2025-09-03', '2025-09-05', { bucket: 's3://other-lake' }));
    assert.equal(((await elsewhere.result()) as BackfillReport).status, 'succeeded');
    assert.deepEqual(
      (await holders()).map((h) => [h.holder, h.featureGroup]),
      [[first.handle.workflowId, 'fg_gold_a']],
    );
    first.let();
    assert.equal(((await first.handle.result()) as BackfillReport).status, 'succeeded');
    assert.deepEqual(await holders(), []);
  });

  it('a (group, version) hold of a backfill from before the upgrade still refuses its group, and its release clears it', async () => {
    // A backfill that took the old lease: held here in another lake, its hold put in the old lease by hand.
    const old = await holding('fg_old', '2025-08-01', '2025-08-03', { bucket: 's3://old-lake' });
    const legacy = await env.client.workflow.start(backfillLeaseWorkflow, {
      args: [{ featureGroup: 'fg_old', featureVersion: 'v1' }],
      taskQueue: TASK_QUEUE,
      workflowId: leaseWorkflowId('fg_old', 'v1'),
    });
    const runId = (await old.handle.describe()).runId;
    const hold = { holder: old.handle.workflowId, runId, startDate: '2025-08-01', endDate: '2025-08-03' };
    assert.equal((await legacy.executeUpdate(acquireLeaseUpdate, { args: [hold] })).granted, true);

    const late = await start(input('fg_old', '2025-08-03', '2025-08-04'));
    assert.match(await refusal(late), new RegExp(`being backfilled by ${old.handle.workflowId} \\(days 2025-08-03\\)`));

    old.let();
    assert.equal(((await old.handle.result()) as BackfillReport).status, 'succeeded');
    assert.deepEqual(await legacy.query(leaseHoldersQuery), [], 'its release cleared the old lease too');
    assert.deepEqual(await holders('s3://old-lake'), []);
  });

  it('waitForOverlap waits (saying so in its progress) and runs once the first has ended', async () => {
    const first = await holding('fg_wait', '2025-11-01', '2025-11-03');
    const second = await start(input('fg_wait', '2025-11-03', '2025-11-04', { waitForOverlap: true }));
    const waiting = await progressWhen(second, (p) => p.status === 'waiting', 'the second to wait');
    assert.equal(waiting.waitingFor, `${first.handle.workflowId} (group fg_wait, days 2025-11-03)`);
    assert.equal(waiting.totals.running, 0);
    assert.ok(!fake.calls.some((c) => c.chunkId === '2025-11-04_2025-11-04'), 'no chunk of the waiting backfill ran');

    first.let();
    const firstReport = (await first.handle.result()) as BackfillReport;
    const secondReport = (await second.result()) as BackfillReport;
    assert.equal(secondReport.status, 'succeeded');
    const firstChunkStart = Math.min(...secondReport.chunks.map((c) => c.startedAt ?? Infinity));
    assert.ok(firstChunkStart >= firstReport.finishedAt, 'the second started its chunks after the first ended');
    assert.deepEqual(await holders(), []);
  });

  it('takes over the lease of a terminated backfill only once its EMR runs have ended', async () => {
    const first = await holding('fg_dead', '2025-10-01', '2025-10-03', { emr: EMR });
    assert.deepEqual(
      (await holders()).map((h: LeaseHolder) => [h.holder, h.sparkApplication]),
      [[first.handle.workflowId, EMR.appId]],
    );
    // Its chunk's EMR run, started by the real runner under the chunk workflow's id, and another backfill's.
    const runner = new EmrServerlessRunner(emr.client());
    const request = awsRequest({ startDate: '2025-10-01', endDate: '2025-10-01', emr: EMR, jobCodeKey: 'jobs/x' });
    const chunk = { index: 0, id: '2025-10-01_2025-10-01', startDate: '2025-10-01', endDate: '2025-10-01', days: 1 };
    for (const runName of [
      `${first.handle.workflowId}/chunk-${chunk.id}`,
      `${first.handle.workflowId}x/chunk-${chunk.id}`,
    ]) {
      emr.scripts.push({ states: ['SUBMITTED', 'RUNNING'] });
      await runner.submit({ request, chunk, args: [], runName });
    }
    const [left] = emr.runs;
    await first.handle.terminate('operator killed it; its EMR run goes on');
    first.let();

    const second = await start(input('fg_dead', '2025-10-02', '2025-10-02', { emr: EMR }));
    assert.match(
      await refusal(second),
      new RegExp(
        `by ${first.handle.workflowId} \\(group fg_dead, days 2025-10-02; its workflow has ended but its Spark run EMR job run ${left.jobRunId} ${first.handle.workflowId}/chunk-${chunk.id} \\(RUNNING\\) still runs\\)`,
      ),
    );
    assert.ok(emr.count('ListJobRuns') >= 1);
    assert.deepEqual(
      (await holders()).map((h) => h.holder),
      [first.handle.workflowId],
      'the hold is kept',
    );

    emr.moveTo(left, 'CANCELLED');
    const third = await start(input('fg_dead', '2025-10-02', '2025-10-03', { emr: EMR }));
    assert.equal(((await third.result()) as BackfillReport).status, 'succeeded');
    assert.deepEqual(await holders(), [], 'the dead hold was released, and the new one given back');
  });

  it('backfill run against a running backfill of the same id: a different input exits 2, the same input follows', async () => {
    const first = await holding('fg_same', '2025-10-01', '2025-10-02');
    const flags = [
      'run',
      '--aws',
      '--task-queue',
      TASK_QUEUE,
      '--bucket',
      's3://fake-lake',
      '--feature-group',
      'fg_same',
      '--start-date',
      '2025-10-01',
      '--end-date',
      '2025-10-02',
      '--chunk-size-days',
      '1',
      '--max-concurrent-chunks',
      '1',
    ];

    let io = fakeIo();
    assert.equal(await main([...flags, '--overwrite', '--no-follow'], io, deps), 2, io.stderr());
    assert.match(
      io.stderr(),
      new RegExp(
        `${first.handle.workflowId} is already running with a different input \\(overwrite: running false, asked true\\); it must finish or be cancelled first`,
      ),
    );
    assert.equal((await first.handle.query(progressQuery)).status, 'running', 'the running one goes on untouched');

    io = fakeIo();
    assert.equal(await main([...flags, '--no-follow'], io, deps), 0, io.stderr());
    assert.equal(io.stdout(), first.handle.workflowId);
    assert.match(io.stderr(), /is already running \(since .*\) with the same input: following it/);
    first.let();
    assert.equal(((await first.handle.result()) as BackfillReport).status, 'succeeded');
  });

  it('the lease workflow keeps its holders across continue-as-new, ends when idle, and the next backfill starts it again', async () => {
    const lease = await env.client.workflow.start(backfillLeaseWorkflow, {
      args: [{ lake: 's3://lease-lake', featureVersion: 'v1', eventsPerRun: 40, idleMs: 1000 }],
      taskQueue: TASK_QUEUE,
      workflowId: lakeLeaseWorkflowId('s3://lease-lake', 'v1'),
    });
    const ask = (holder: string, startDate: string, endDate: string) =>
      lease.executeUpdate(acquireLeaseUpdate, { args: [{ holder, runId: `${holder}-run`, startDate, endDate }] });
    assert.deepEqual(await ask('keep', '2025-10-01', '2025-10-02'), { granted: true, conflicts: [] });
    for (let i = 0; i < 12; i++) {
      assert.equal((await ask(`x${i}`, '2025-11-01', '2025-11-01')).granted, true);
      assert.equal(await lease.executeUpdate(releaseLeaseUpdate, { args: [{ holder: `x${i}` }] }), true);
    }
    const latest = env.client.workflow.getHandle(lease.workflowId);
    assert.notEqual((await latest.describe()).runId, lease.firstExecutionRunId, 'it continued as new');
    assert.deepEqual(await ask('other', '2025-10-02', '2025-10-03'), {
      granted: false,
      conflicts: [{ holder: 'keep', runId: 'keep-run', shared: { startDate: '2025-10-02', endDate: '2025-10-02' } }],
    });
    // A stale release (another run id) leaves the hold alone.
    assert.equal(
      await latest.executeUpdate(releaseLeaseUpdate, { args: [{ holder: 'keep', runId: 'older-run' }] }),
      false,
    );
    assert.equal(
      await latest.executeUpdate(releaseLeaseUpdate, { args: [{ holder: 'keep', runId: 'keep-run' }] }),
      true,
    );
    await until(
      async () => ((await latest.describe()).status.name === 'COMPLETED' ? true : undefined),
      'the idle lease to end',
    );

    const backfill = await start(input('fg_lease', '2025-10-01', '2025-10-02', { bucket: 's3://lease-lake' }));
    assert.equal(((await backfill.result()) as BackfillReport).status, 'succeeded');
    assert.equal((await latest.describe()).status.name, 'RUNNING', 'the backfill started the lease again');
  });

  it('two identical backfill runs started at once give one workflow, both following it to its report', async () => {
    const flags = [
      'run',
      '--aws',
      '--json',
      '--task-queue',
      TASK_QUEUE,
      '--bucket',
      's3://fake-lake',
      '--feature-group',
      'fg_twice',
      '--start-date',
      '2025-12-01',
      '--end-date',
      '2025-12-03',
      '--chunk-size-days',
      '1',
    ];
    const ios = [fakeIo(), fakeIo()];
    const codes = await Promise.all(ios.map((io) => main(flags, io, deps)));
    assert.deepEqual(codes, [0, 0], ios.map((io) => io.stderr()).join('\n'));
    const reports = ios.map((io) => JSON.parse(io.stdout()) as BackfillReport);
    assert.equal(reports[0].workflowId, reports[1].workflowId);
    assert.equal(reports[0].startedAt, reports[1].startedAt, 'the same run');
    const runs = await until(async () => {
      const found = [];
      for await (const w of env.client.workflow.list({ query: `WorkflowId = '${reports[0].workflowId}'` }))
        found.push(w);
      return found.length > 0 && found.every((w) => w.status.name === 'COMPLETED') ? found : undefined;
    }, 'visibility to show the run');
    assert.equal(runs.length, 1, 'one execution');
    assert.equal(
      fake.calls.filter((c) => c.step === 'spark' && c.chunkId === '2025-12-03_2025-12-03').length,
      1,
      'each chunk ran once',
    );
  });
});
