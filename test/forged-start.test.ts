/**
 * Starts that go around the backfill's validation (issue 21): the worker registers chunkWorkflow,
 * and backfillWorkflow takes a second argument (the continue-as-new carry). Whoever can start a
 * workflow in the namespace can start either with input of their own; both must fail before any
 * Spark activity. Time-skipping server, fake activities (the worker-rules check is the real one).
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { validateInput, WORKER_DECIDES } from '../src/common/input';
import { planChunks } from '../src/common/plan';
import { fakeActivities } from './support/fake-activities';
import { createDevServerEnv, createTimeSkippingEnv, WORKFLOWS_PATH } from './support/temporal';
import { until } from './support/until';

describe('forged workflow starts (time-skipping server)', function () {
  let env: TestWorkflowEnvironment;
  let n = 0;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const base = { bucket: '/tmp/lake', startDate: '2025-10-01', endDate: '2025-10-03', chunkSizeDays: 3 };

  /** Starts `type` with `args`; returns its failure, the fake activities' calls and the activities the history scheduled. */
  async function start(type: string, args: unknown[]) {
    const fake = fakeActivities();
    const taskQueue = `forged-${++n}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    const workflowId = `forged-${n}`;
    const error = await worker.runUntil(
      env.client.workflow.execute(type, { args, taskQueue, workflowId }).then(
        () => undefined,
        (err: unknown) => err,
      ),
    );
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((name): name is string => Boolean(name));
    const children = (history.events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
    return { error, calls: fake.calls, scheduled, children: children.length };
  }

  function invalidInput(error: unknown): ApplicationFailure {
    assert.ok(error instanceof WorkflowFailedError, `expected the workflow to fail, got ${String(error)}`);
    assert.ok(error.cause instanceof ApplicationFailure, String(error.cause));
    assert.equal(error.cause.type, 'InvalidInput');
    assert.equal(error.cause.nonRetryable, true);
    return error.cause;
  }

  const request = (extra: Record<string, unknown> = {}) =>
    validateInput({ ...base, ...extra }, { allowSparkConf: WORKER_DECIDES });
  const chunk = planChunks('2025-10-01', '2025-10-03', 3)[0];

  it('a chunkWorkflow started with code-loading sparkConf fails naming the key, with no Spark activity', async () => {
    const forged = request({
      sparkConf: { 'spark.jars': '/tmp/forged.jar', 'spark.driver.extraJavaOptions': '-Dforged=1' },
    });
    const { error, calls, scheduled } = await start('chunkWorkflow', [{ request: forged, chunk, runId: 'run-1' }]);
    const failure = invalidInput(error);
    assert.match(failure.message, /sparkConf\.spark\.jars: .*BACKFILL_ALLOW_SPARK_CONF/);
    assert.deepEqual(calls, [], 'no step ran');
    assert.ok(!scheduled.includes('runSparkJob'), `scheduled: ${scheduled.join(', ')}`);
  });

  it('a chunkWorkflow started with an unchecked request (overlapping prefixes, a sparkConf value with a quote) fails before any activity', async () => {
    const prefixes = {
      ...request(),
      prefixes: { bronze: 'bronze/streaming', silver: 'bronze/streaming', gold: 'gold' },
    };
    const one = await start('chunkWorkflow', [{ request: prefixes, chunk, runId: 'run-1' }]);
    assert.match(
      invalidInput(one.error).message,
      /prefixes\.bronze: bronze "bronze\/streaming" and silver are the same directory/,
    );
    assert.deepEqual(one.scheduled, []);

    const quoted = { ...request(), sparkConf: { 'spark.executor.memory': '8g"' } };
    const two = await start('chunkWorkflow', [{ request: quoted, chunk, runId: 'run-1' }]);
    assert.match(invalidInput(two.error).message, /sparkConf\.spark\.executor\.memory/);
    assert.deepEqual(two.scheduled, []);
  });

  it("a chunkWorkflow whose chunk is not of the request's plan, or with an unknown field, fails before any activity", async () => {
    const outside = { index: 0, id: '2024-01-01_2024-01-03', startDate: '2024-01-01', endDate: '2024-01-03', days: 3 };
    const one = await start('chunkWorkflow', [{ request: request(), chunk: outside }]);
    assert.match(invalidInput(one.error).message, /chunk: .*not a chunk of the request's plan/);
    assert.deepEqual(one.scheduled, []);
    const two = await start('chunkWorkflow', [{ request: { ...request(), evil: true }, chunk }]);
    assert.match(invalidInput(two.error).message, /evil: unknown field/);
    const three = await start('chunkWorkflow', [
      {
        request: {
          ...request(),
          publication: {
            offlineWith: 'spark',
            offlineStore: 'sagemaker:arn:aws:sagemaker:us-east-1:123456789012:feature-group/other',
          },
        },
        chunk,
      },
    ]);
    assert.match(invalidInput(three.error).message, /publication/);
    assert.deepEqual(three.scheduled, []);
  });

  it('a legitimate chunkWorkflow start (a day of a planned chunk, as bisect runs them) runs its steps', async () => {
    const day = { index: 0, id: '2025-10-02_2025-10-02', startDate: '2025-10-02', endDate: '2025-10-02', days: 1 };
    const { error, calls } = await start('chunkWorkflow', [{ request: request(), chunk: day, runId: 'run-1' }]);
    assert.equal(error, undefined, String(error));
    assert.deepEqual(calls.map((c) => c.step).sort(), ['catalog', 'ingest', 'spark', 'validate']);
  });

  it('a backfillWorkflow started with a forged carry fails at once, before any activity or chunk', async () => {
    const carry = { request: request(), paused: false, maxConcurrentChunks: 2, startedAt: Date.now(), runs: 1 };
    const { error, scheduled, children } = await start('backfillWorkflow', [base, carry]);
    assert.match(invalidInput(error).message, /continue-as-new carry.*accepted only from a run of this backfill/);
    assert.deepEqual(scheduled, []);
    assert.equal(children, 0);
    // A carry with no request at all (it once left the workflow waiting for ever).
    const empty = await start('backfillWorkflow', [base, {}]);
    assert.match(invalidInput(empty.error).message, /continue-as-new carry/);
  });

  it('a backfillLeaseWorkflow started with forged holders fails at once (it would refuse every backfill of those days)', async () => {
    const holder = { holder: 'forged', runId: 'r', startDate: '2025-10-01', endDate: '2025-10-31', since: 0 };
    const input = { featureVersion: 'v1', lake: '/tmp/lake', holders: [holder] };
    const { error, scheduled } = await start('backfillLeaseWorkflow', [input]);
    assert.match(invalidInput(error).message, /holders.*accepted only from a run of this lease/);
    assert.deepEqual(scheduled, []);
  });
});

// The time-skipping server cannot continue a cron schedule (it fails the next run's start), so this
// one runs on a dev server, with a schedule of every 2 s.
describe('forged carry under a cron schedule (dev server)', function () {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createDevServerEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it("is refused in the runs the schedule starts too (they name the run before them but get the first run's arguments)", async () => {
    const base = { bucket: '/tmp/lake', startDate: '2025-10-01', endDate: '2025-10-03', chunkSizeDays: 3 };
    const request = validateInput(base, { allowSparkConf: WORKER_DECIDES });
    const carry = { request, paused: false, maxConcurrentChunks: 2, startedAt: Date.now(), runs: 1 };
    const fake = fakeActivities();
    const taskQueue = 'forged-cron';
    const workflowId = 'forged-cron';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    const laterRunFailed = async (): Promise<boolean> => {
      for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        if (w.status.name === 'RUNNING') continue;
        const history = await env.client.workflow.getHandle(workflowId, w.runId).fetchHistory();
        const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
        if (started?.continuedExecutionRunId) return true;
      }
      return false;
    };
    await worker.runUntil(async () => {
      const first = await env.client.workflow.start('backfillWorkflow', {
        args: [base, carry],
        taskQueue,
        workflowId,
        cronSchedule: '@every 2s',
      });
      await until(laterRunFailed, 'a run of the schedule after the first to end', { timeoutMs: 60_000 });
      await first.terminate('test over');
    });
    assert.deepEqual(
      fake.calls.map((c) => c.step),
      [],
      'no run of the schedule may act on the forged carry',
    );
  });
});
