/**
 * A deploy never kills an EMR job: the real worker process (AWS backend on moto S3/Glue and the
 * EMR job-run double) gets SIGTERM while a chunk's job run is RUNNING; it leaves the run alone, a
 * new worker's attempt follows the same run, and the backfill completes with one StartJobRun and
 * no CancelJobRun. The job code comes from `deploy-job`'s LATEST, fixed by the workflow's preflight.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateFeatureGroupCommand, type CreateFeatureGroupCommandInput } from '@aws-sdk/client-sagemaker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEFAULT_CODE_PREFIX, uploadJobCode } from '../../src/activities/aws/job-code';
import { S3Lake } from '../../src/activities/aws/s3-lake';
import { manifestUri } from '../../src/activities/lake-paths';
import { packageJob } from '../../src/client/commands/deploy-job';
import { validateInput } from '../../src/common/input';
import { planChunks } from '../../src/common/plan';
import { shutdownGraceMs } from '../../src/worker';
import { backfillWorkflow } from '../../src/workflows';
import { createDevServerEnv } from '../support/temporal';
import { EmrDouble } from './emr-double';
import { FAKE_CREDENTIALS, motoClients, REGION, ROOT, startMoto, type Moto } from './moto';
import { JOB_ROLE } from './support';
import { renderTemplate } from './templates';
import { until as untilShown } from '../support/until';

const until = (check: () => boolean, what: string) => untilShown(check, what, { timeoutMs: 180_000 });

describe('aws: SIGTERM to the worker while an EMR job runs (worker process, moto, EMR double, dev server)', function () {
  let env: TestWorkflowEnvironment;
  let moto: Moto;
  let logs: string;
  const double = new EmrDouble();
  const workers: ChildProcess[] = [];
  const input = {
    bucket: 'lake',
    codeBucket: 'code-bucket',
    startDate: '2025-10-01',
    endDate: '2025-10-02',
    chunkSizeDays: 1,
    maxConcurrentChunks: 1,
    emr: { appId: 'app-1', jobRole: JOB_ROLE },
  };

  before(async () => {
    logs = fs.mkdtempSync(path.join(os.tmpdir(), 'emr-shutdown-'));
    moto = await startMoto();
    await double.start();
    double.applications.set('app-1', { state: 'STARTED', type: 'SPARK' });
    const { s3, sagemaker } = motoClients(moto.endpoint);
    for (const Bucket of ['lake', 'code-bucket']) await s3.send(new CreateBucketCommand({ Bucket }));
    // The feature group, as docs/aws.md has it created (preflight describes it).
    const group = {
      FeatureGroupName: 'rt_card_features_v1',
      OfflineStoreS3Uri: 's3://lake/offline',
      FeatureStoreRoleArn: JOB_ROLE,
    };
    await sagemaker.send(
      new CreateFeatureGroupCommand(renderTemplate('feature-group.json', group) as CreateFeatureGroupCommandInput),
    );
    const pkg = packageJob();
    await uploadJobCode(s3, {
      codeBucket: 'code-bucket',
      prefix: DEFAULT_CODE_PREFIX,
      entryPoint: pkg.entryPoint,
      pyPackage: pkg.pyPackage,
      hash: pkg.hash,
    });
    env = await createDevServerEnv();
  });
  after(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await env?.teardown();
    await double.stop();
    await moto?.stop();
    fs.rmSync(logs, { recursive: true, force: true });
  });

  /** The real worker entry point, as its own process, on the AWS backend. */
  function startWorker(): ChildProcess {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('BACKFILL_')),
    );
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'src', 'worker.ts')],
      {
        cwd: ROOT,
        env: {
          ...clean,
          TEMPORAL_ADDRESS: env.address,
          BACKFILL_BACKEND: 'aws',
          BACKFILL_TASK_QUEUE: 'emr-shutdown',
          BACKFILL_CATALOG_MODE: 'partitions',
          BACKFILL_POLL_INTERVAL_MS: '200',
          // Short, so the test does not wait out the production grace time.
          BACKFILL_SHUTDOWN_GRACE_SECONDS: '1',
          AWS_REGION: REGION,
          AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
          AWS_ENDPOINT_URL: moto.endpoint,
          AWS_ENDPOINT_URL_EMR_SERVERLESS: double.endpoint,
        },
        stdio: [
          'ignore',
          fs.openSync(path.join(logs, `worker-${workers.length}.log`), 'w'),
          fs.openSync(path.join(logs, `worker-${workers.length}.err`), 'w'),
        ],
      },
    );
    workers.push(child);
    return child;
  }

  it('leaves the job run going, and the next worker follows it to the end: one StartJobRun, no CancelJobRun', async () => {
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING'] }); // RUNNING until the test finishes it
    const first = startWorker();
    const handle = await env.client.workflow.start(backfillWorkflow, {
      args: [input],
      taskQueue: 'emr-shutdown',
      workflowId: 'emr-shutdown',
    });
    // What the Spark job writes at the end (the double runs no Spark): a manifest with no new gold,
    // at the path of this backfill run.
    const request = validateInput(input);
    for (const chunk of planChunks(request.startDate, request.endDate, request.chunkSizeDays)) {
      const uri = manifestUri(request, chunk.id, handle.firstExecutionRunId);
      await new S3Lake(motoClients(moto.endpoint).s3).writeText(
        uri,
        JSON.stringify(emptyManifest(chunk.startDate, chunk.endDate)),
      );
    }
    await until(
      () => double.calls.filter((c) => c === 'GetJobRun RUNNING').length >= 2,
      'the job run RUNNING and followed',
    );

    const exited = new Promise<number | null>((r) => first.once('exit', (code) => r(code)));
    first.kill('SIGTERM');
    assert.equal(
      await exited,
      0,
      `the worker stopped cleanly: ${fs.readFileSync(path.join(logs, 'worker-0.err'), 'utf8').slice(-2000)}`,
    );
    const run = double.runs[0];
    assert.equal(double.count('CancelJobRun'), 0, 'a worker shutdown does not cancel the job run');
    assert.equal(run.cancelled, false);

    // A new version is deployed meanwhile: this backfill keeps the code its preflight fixed.
    const pkg = packageJob();
    await uploadJobCode(motoClients(moto.endpoint).s3, {
      codeBucket: 'code-bucket',
      prefix: DEFAULT_CODE_PREFIX,
      entryPoint: pkg.entryPoint,
      pyPackage: pkg.pyPackage,
      hash: 'bbbbbbbbbbbb',
    });

    const seen = double.calls.length;
    startWorker();
    // The retried attempt (after the activity's 30 s retry interval) polls the same run again.
    await until(() => double.calls.slice(seen).includes('GetJobRun RUNNING'), 'the new worker following the run');
    double.finish(run);
    const report = await handle.result();

    assert.equal(report.status, 'succeeded', JSON.stringify(report.chunks.map((c) => c.error)));
    const chunkId = report.chunks[0].chunk.id;
    assert.equal(
      double.runs.filter((r) => r.tags?.['backfill:chunk'] === chunkId).length,
      1,
      'one job run for the chunk',
    );
    assert.equal(double.count('StartJobRun'), 2, 'exactly one StartJobRun per chunk (two chunks)');
    assert.equal(double.count('CancelJobRun'), 0, 'no CancelJobRun');
    assert.equal(report.chunks[0].jobRunId, run.jobRunId);
    // The attempt on the stopped worker failed as a detach (not a heartbeat timeout), and the job
    // code is the deployed key that preflight fixed for the backfill.
    const history = await env.client.workflow.getHandle(`emr-shutdown/chunk-${chunkId}`).fetchHistory();
    // Retried attempts are not events of their own: the Spark activity's started event carries them.
    const started = (history.events ?? [])
      .map((e) => e.activityTaskStartedEventAttributes)
      .filter((a) => a?.lastFailure);
    assert.equal(started.length, 1, 'one activity was retried');
    assert.equal(started[0]!.attempt, 2);
    assert.match(
      started[0]!.lastFailure!.message!,
      new RegExp(`worker shut down while Spark job ${run.jobRunId} .*the run goes on`),
    );
    for (const r of double.runs) {
      const submit = (r.jobDriver as { sparkSubmit: { entryPoint: string } }).sparkSubmit;
      assert.equal(
        submit.entryPoint,
        `s3://code-bucket/${DEFAULT_CODE_PREFIX}/${pkg.hash}/backfill_features.py`,
        'the key deployed when the backfill started',
      );
    }
  });

  it('an operator cancel of a second backfill cancels its job run and ends only once EMR says CANCELLED', async () => {
    // The worker started by the test above is still serving the task queue.
    double.cancellingSteps = 2;
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING'] }); // RUNNING until cancelled
    const runsBefore = double.runs.length;
    const second = { ...input, startDate: '2025-10-05', endDate: '2025-10-05' };
    const callsBefore = double.calls.length;
    const handle = await env.client.workflow.start(backfillWorkflow, {
      args: [second],
      taskQueue: 'emr-shutdown',
      workflowId: 'emr-cancel-second',
    });
    await until(
      () => double.runs.length > runsBefore && double.calls.slice(callsBefore).includes('GetJobRun RUNNING'),
      'the second job RUNNING',
    );
    const seen = double.calls.length;
    await handle.cancel();
    const report = await handle.result();
    const after = double.calls.slice(seen);

    assert.equal(report.status, 'cancelled');
    assert.equal(report.chunks[0].status, 'cancelled');
    const run = double.runs[runsBefore];
    assert.equal(run.cancelled, true, 'CancelJobRun reached the job run');
    assert.equal(after.filter((c) => c === 'CancelJobRun').length, 1);
    // The backfill reported "cancelled" only after EMR had said so.
    assert.ok(after.indexOf('GetJobRun CANCELLED') > after.indexOf('CancelJobRun'), after.join(', '));
    assert.ok(after.includes('GetJobRun CANCELLING'), after.join(', '));
  });
});

describe('worker: shutdown grace time', () => {
  it('is 20 s unless BACKFILL_SHUTDOWN_GRACE_SECONDS says otherwise, and refuses a bad value', () => {
    assert.equal(shutdownGraceMs({}), 20_000);
    assert.equal(shutdownGraceMs({ BACKFILL_SHUTDOWN_GRACE_SECONDS: '5' }), 5000);
    assert.throws(
      () => shutdownGraceMs({ BACKFILL_SHUTDOWN_GRACE_SECONDS: '5s' }),
      /BACKFILL_SHUTDOWN_GRACE_SECONDS must be a whole number of seconds, got "5s"/,
    );
  });
});

function emptyManifest(startDate: string, endDate: string) {
  return {
    feature_group: 'rt_card_features_v1',
    feature_version: 'v1',
    feature_definition: { fingerprint: 'test', description: 'test' },
    code_revision: 'test',
    start_date: startDate,
    end_date: endDate,
    overwrite: false,
    bronze_partitions_read: [],
    coverage_gaps: [],
    missing_context_partitions: [],
    skipped_partitions: [],
    overwritten_partitions: [],
    written_partitions: [],
    input_rows: 0,
    quarantined_rows: 0,
    quarantined_rows_per_dt: {},
    duplicates_removed: 0,
    output_rows_per_dt: {},
    output_rows: 0,
    duplicate_event_ids_in_output: 0,
    min_event_time: null,
    max_event_time: null,
    gold_table: 's3://lake/gold/card_features',
    duration_seconds: 0,
    spark_version: 'test',
  };
}
