/**
 * Hardened input through the workflow itself, as `temporal workflow start` reaches it (no CLI
 * checks in between): the real `temporal` CLI of .venv/bin against a dev server, a worker of this
 * project's workflows and the real local activities on a temp lake.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { createLocalBackends } from '../src/activities/local';
import type { BackfillReport } from '../src/common/results';
import { createDevServerEnv, ROOT, VENV_BIN, WORKFLOWS_PATH } from './support/temporal';

const TASK_QUEUE = 'input-cli';

describe('input: hardened input through the workflow (dev server, temporal CLI)', function () {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let dir: string;
  let lake: string;
  // Activities the worker ran, by name, in order.
  const calls: string[] = [];
  const saved = { spark: process.env.BACKFILL_ALLOW_SPARK_CONF, roles: process.env.BACKFILL_ALLOWED_JOB_ROLES };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'input-cli-'));
    lake = path.join(dir, 'lake');
    fs.mkdirSync(lake);
    env = await createDevServerEnv();
    const activities = createActivities(
      createLocalBackends({ venvBin: VENV_BIN, jobDir: path.join(ROOT, 'spark_jobs'), stateDir: dir }),
    );
    const recorded = Object.fromEntries(
      Object.entries(activities).map(([name, fn]) => [
        name,
        (...args: unknown[]) => {
          calls.push(name);
          return (fn as (...a: unknown[]) => unknown)(...args);
        },
      ]),
    );
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: WORKFLOWS_PATH,
      activities: recorded,
    });
    running = worker.run();
  });

  beforeEach(() => {
    calls.length = 0;
    delete process.env.BACKFILL_ALLOW_SPARK_CONF;
    delete process.env.BACKFILL_ALLOWED_JOB_ROLES;
  });

  after(async () => {
    for (const [name, value] of [
      ['BACKFILL_ALLOW_SPARK_CONF', saved.spark],
      ['BACKFILL_ALLOWED_JOB_ROLES', saved.roles],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    worker?.shutdown();
    await running;
    await env?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const input = (extra: Record<string, unknown>) => ({
    bucket: lake,
    startDate: '2025-10-01',
    endDate: '2025-10-02',
    ...extra,
  });

  /** The workflow's failure: an InvalidInput ApplicationFailure, non-retryable. */
  async function invalidInput(handle: WorkflowHandle): Promise<string> {
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, `expected the workflow to fail, got ${String(err)}`);
    assert.ok(err.cause instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err.cause)}`);
    assert.equal(err.cause.type, 'InvalidInput');
    return err.cause.message;
  }

  /** Activity types scheduled and child workflows started, from the workflow's history. */
  async function workStarted(handle: WorkflowHandle): Promise<{ activities: string[]; children: number }> {
    const { events } = await handle.fetchHistory();
    return {
      activities: (events ?? []).flatMap((e) =>
        e.activityTaskScheduledEventAttributes
          ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? '?']
          : [],
      ),
      children: (events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length,
    };
  }

  it('temporal workflow start with a codeBucket carrying Spark options fails on codeBucket; no activity runs', async () => {
    const workflowId = 'input-cli-code-bucket';
    const { stdout } = await promisify(execFile)(path.join(VENV_BIN, 'temporal'), [
      'workflow',
      'start',
      '--address',
      env.address,
      '--namespace',
      'default',
      '--type',
      'backfillWorkflow',
      '--task-queue',
      TASK_QUEUE,
      '--workflow-id',
      workflowId,
      '--input',
      JSON.stringify(input({ codeBucket: 'x --conf spark.jars=s3://evil/x.jar', dryRun: true })),
    ]);
    assert.match(stdout, new RegExp(workflowId));
    const handle = env.client.workflow.getHandle(workflowId);
    assert.match(
      await invalidInput(handle),
      /^invalid input: codeBucket: "x --conf spark\.jars=s3:\/\/evil\/x\.jar" contains whitespace/,
    );
    assert.deepEqual(await workStarted(handle), { activities: [], children: 0 });
    assert.deepEqual(calls, []);
  });

  it('a restricted Spark setting fails in preflight unless the worker allows it with BACKFILL_ALLOW_SPARK_CONF', async () => {
    const refused = await env.client.workflow.start('backfillWorkflow', {
      args: [input({ sparkConf: { 'spark.jars': 's3://evil/x.jar' }, dryRun: true })],
      taskQueue: TASK_QUEUE,
      workflowId: 'input-cli-spark-jars-refused',
    });
    assert.match(
      await invalidInput(refused),
      /^invalid input: sparkConf\.spark\.jars: not a tuning key .*BACKFILL_ALLOW_SPARK_CONF=spark\.jars/,
    );
    assert.deepEqual(await workStarted(refused), { activities: ['preflight'], children: 0 });
    assert.deepEqual(calls, ['preflight']);

    calls.length = 0;
    process.env.BACKFILL_ALLOW_SPARK_CONF = 'spark.files, spark.jars*';
    const allowed = await env.client.workflow.start('backfillWorkflow', {
      args: [input({ sparkConf: { 'spark.jars': 's3://evil/x.jar' }, dryRun: true })],
      taskQueue: TASK_QUEUE,
      workflowId: 'input-cli-spark-jars-allowed',
    });
    const report = (await allowed.result()) as BackfillReport;
    assert.equal(report.status, 'dry_run');
    assert.deepEqual(calls, ['preflight', 'inspectLake']);
  });

  it('an emr.jobRole outside BACKFILL_ALLOWED_JOB_ROLES fails in preflight, naming the field', async () => {
    process.env.BACKFILL_ALLOWED_JOB_ROLES = 'arn:aws:iam::123456789012:role/backfill-*';
    const handle = await env.client.workflow.start('backfillWorkflow', {
      args: [input({ emr: { appId: 'app', jobRole: 'arn:aws:iam::123456789012:role/Admin' }, dryRun: true })],
      taskQueue: TASK_QUEUE,
      workflowId: 'input-cli-job-role',
    });
    assert.match(
      await invalidInput(handle),
      /^invalid input: emr\.jobRole: "arn:aws:iam::123456789012:role\/Admin" is not allowed by this worker: BACKFILL_ALLOWED_JOB_ROLES/,
    );
    assert.deepEqual(calls, ['preflight']);
  });
});
