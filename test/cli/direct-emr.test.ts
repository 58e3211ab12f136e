/**
 * `backfill run --direct-emr` against the AWS test harness of test/aws: moto (server mode) for
 * EMR Serverless and S3 (its job runs succeed at once), and the wire-level EMR double for a run
 * that goes through its states and FAILS. Nothing here can reach real AWS.
 */
import {
  CreateApplicationCommand,
  EMRServerlessClient,
  GetJobRunCommand,
  ListJobRunsCommand,
} from '@aws-sdk/client-emr-serverless';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { main } from '../../src/client/cli';
import { EmrDouble } from '../aws/emr-double';
import { FAKE_CREDENTIALS, motoClients, REGION, startMoto, type Moto } from '../aws/moto';
import { JOB_ROLE } from '../aws/support';
import { until } from '../support/until';
import { fakeIo } from './support';

const flags = (appId: string, ...extra: string[]) => [
  'run',
  '--direct-emr',
  '--bucket',
  'lake-bucket',
  '--code-bucket',
  'code-bucket',
  '--emr-app-id',
  appId,
  '--emr-job-role',
  JOB_ROLE,
  '--start-date',
  '2025-10-01',
  '--end-date',
  '2025-10-02',
  ...extra,
];

describe('cli: backfill run --direct-emr (moto, EMR double)', function () {
  let moto: Moto;
  let emr: EMRServerlessClient;
  let s3: S3Client;
  let appId: string;
  let codeKey: string;
  const deps = () => ({ awsClients: () => ({ emr, s3 }), pollMs: 20 });

  before(async () => {
    moto = await startMoto();
    ({ emr, s3 } = motoClients(moto.endpoint));
    appId = (
      await emr.send(new CreateApplicationCommand({ name: 'backfill', releaseLabel: 'emr-7.5.0', type: 'SPARK' }))
    ).applicationId!;
    await s3.send(new CreateBucketCommand({ Bucket: 'lake-bucket' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'code-bucket' }));
    const deployed = fakeIo();
    assert.equal(await main(['deploy-job', '--code-bucket', 'code-bucket'], deployed, deps()), 0, deployed.stderr());
    codeKey = deployed.stdout();
  });
  after(async () => moto?.stop());

  it('submits one job run for the range with the sub-chunk size, waits for it and reports its manifests', async () => {
    // What the job would have written for its first sub-chunk (moto runs no Spark).
    const manifest = {
      output_rows: 1234,
      written_partitions: ['2025-10-01'],
      skipped_partitions: [],
      coverage_gaps: [],
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: 'lake-bucket',
        Key: '_manifests/card_features/feature_version=v1/chunk=2025-10-01_2025-10-01.json',
        Body: JSON.stringify(manifest),
      }),
    );
    const io = fakeIo();
    assert.equal(
      await main(flags(appId, '--chunk-size-days', '1', '--overwrite', '--glue-crawler', 'gold-crawler'), io, deps()),
      0,
      io.stderr(),
    );

    const runs = (await emr.send(new ListJobRunsCommand({ applicationId: appId }))).jobRuns ?? [];
    assert.equal(runs.length, 1, 'one job run for the whole range');
    const run = (await emr.send(new GetJobRunCommand({ applicationId: appId, jobRunId: runs[0].id! }))).jobRun!;
    assert.equal(run.executionRole, JOB_ROLE);
    assert.match(run.name!, /^backfill-rt_card_features_v1-v1-2025-10-01-2025-10-02\/direct-emr-/);
    const submit = run.jobDriver!.sparkSubmit!;
    // The latest deployed job code (`backfill deploy-job`).
    assert.equal(submit.entryPoint, `s3://code-bucket/${codeKey}/backfill_features.py`);
    const args = submit.entryPointArguments!;
    const arg = (name: string) => args[args.indexOf(name) + 1];
    assert.deepEqual(
      [arg('--bucket'), arg('--start-date'), arg('--end-date'), arg('--chunk-size-days')],
      ['s3://lake-bucket', '2025-10-01', '2025-10-02', '1'],
    );
    assert.ok(args.includes('--overwrite'));
    assert.ok(!args.includes('--manifest-path'), 'two sub-chunks: each writes its own manifest');

    assert.equal(io.errLines[0], 'notice: --glue-crawler is not used with --direct-emr: the catalog is not refreshed.');
    assert.match(
      io.stderr(),
      new RegExp(
        `EMR job run ${runs[0].id} submitted on application ${appId} for 2025-10-01 \\.\\. 2025-10-02 \\(2 sub-chunk\\(s\\) of 1 day\\(s\\)\\)`,
      ),
    );
    assert.match(io.stderr(), /Z EMR job run \S+: SUCCESS$/m);
    const out = io.stdout();
    assert.match(
      out,
      new RegExp(`^Direct EMR run ${runs[0].id}: SUCCEEDED\n  v1 gold for 2025-10-01 \\.\\. 2025-10-02: 1,234 rows`),
    );
    assert.match(out, /2025-10-01_2025-10-01 +1,234 +2025-10-01 +- +-/);
    assert.match(out, /2025-10-02_2025-10-02 +\? +no manifest found/);
    assert.match(out, /Not done by a direct run: Glue catalog refresh, feature store ingestion, validation\./);
    assert.match(out, /run the same backfill without --direct-emr and with --overwrite/);
  });

  it('with --no-follow prints the job run id and returns', async () => {
    const io = fakeIo();
    assert.equal(await main(flags(appId, '--aws', '--no-follow'), io, deps()), 0, io.stderr());
    assert.match(io.stdout(), /^[0-9a-z]+$/);
  });

  it('exits 2 naming --emr-app-id when the application does not exist', async () => {
    const io = fakeIo();
    assert.equal(await main(flags('00nosuchapp'), io, deps()), 2);
    assert.match(
      io.stderr(),
      /^backfill: EMR StartJobRun on application 00nosuchapp .*; check --emr-app-id \(00nosuchapp\), --emr-job-role and --code-bucket/,
    );
  });

  it("follows a run through its states and exits 1 with EMR's reason when it FAILS", async () => {
    const double = new EmrDouble();
    await double.start();
    try {
      double.applications.set('app-d', { state: 'STARTED', type: 'SPARK' });
      double.scripts.push({
        states: ['SUBMITTED', 'PENDING', 'RUNNING', 'RUNNING', 'FAILED'],
        stateDetails: 'Job failed: ExecutorLostFailure (OOM)',
      });
      const client = new EMRServerlessClient({
        region: REGION,
        endpoint: double.endpoint,
        credentials: FAKE_CREDENTIALS,
      });
      const io = fakeIo();
      const code = await main(
        flags('app-d', '--chunk-size-days', '2', '--spark-conf', 'spark.executor.memory=16g'),
        io,
        { awsClients: () => ({ emr: client, s3 }), pollMs: 10 },
      );
      assert.equal(code, 1, io.stderr());
      const err = io.stderr();
      // submit() read SUBMITTED already; the follow loop sees the rest.
      for (const state of ['PENDING', 'RUNNING'])
        assert.match(err, new RegExp(`Z EMR job run jr000001: ${state}$`, 'm'));
      assert.match(err, /\nEMR job run jr000001 FAILED: Job failed: ExecutorLostFailure \(OOM\) \(logs: /);
      assert.match(err, /see the driver log/);
      assert.equal(io.stdout(), '');
      const submit = (
        double.runs[0].jobDriver as { sparkSubmit: { entryPointArguments: string[]; sparkSubmitParameters: string } }
      ).sparkSubmit;
      assert.ok(submit.sparkSubmitParameters.includes('--conf spark.executor.memory=16g'));
      const args = submit.entryPointArguments;
      assert.equal(args[args.indexOf('--chunk-size-days') + 1], '2');
      assert.ok(args.includes('--manifest-path'), 'one sub-chunk: the manifest path is given');
    } finally {
      await double.stop();
    }
  });

  it('Ctrl-C cancels the run, follows it until EMR reports it CANCELLED and exits 1', async () => {
    const double = new EmrDouble();
    await double.start();
    try {
      double.applications.set('app-c', { state: 'STARTED', type: 'SPARK' });
      // Held RUNNING until cancelled; then two CANCELLING answers (the run can still write) before CANCELLED.
      double.scripts.push({ states: ['SUBMITTED', 'RUNNING'] });
      double.cancellingSteps = 2;
      const client = new EMRServerlessClient({
        region: REGION,
        endpoint: double.endpoint,
        credentials: FAKE_CREDENTIALS,
      });
      const others = process.listeners('SIGINT');
      const io = fakeIo();
      const exit = main(flags('app-c'), io, { awsClients: () => ({ emr: client, s3 }), pollMs: 10 });
      await until(() => /jr000001: RUNNING$/m.test(io.stderr()), 'the run followed while RUNNING', {
        timeoutMs: 20_000,
        everyMs: 10,
      });
      // Ctrl-C, delivered to the command's handler only (the SDK's runtime in this process has its own).
      const handlers = process.listeners('SIGINT').filter((l) => !others.includes(l));
      assert.equal(handlers.length, 1, 'the command listens for Ctrl-C while it follows the run');
      handlers[0]('SIGINT');
      assert.equal(await exit, 1, io.stderr());
      assert.equal(double.count('CancelJobRun'), 1);
      assert.equal(double.calls.at(-1), 'GetJobRun CANCELLED', 'followed until EMR said CANCELLED');
      const err = io.stderr();
      assert.match(err, /\ncancelling EMR job run jr000001 \.\.\./);
      assert.match(err, /Z EMR job run jr000001: CANCELLING: Job run cancelled by user$/m);
      assert.match(err, /^EMR job run jr000001 CANCELLED: Job run cancelled by user$/m);
      assert.deepEqual(process.listeners('SIGINT'), others, 'the Ctrl-C handler is removed');
    } finally {
      await double.stop();
    }
  });

  it('exits 2 asking for AWS_REGION when the environment has no AWS settings', async () => {
    const saved = { region: process.env.AWS_REGION, def: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      const io = fakeIo();
      assert.equal(await main(flags(appId), io), 2);
      assert.match(io.stderr(), /^backfill: AWS settings: .*AWS_REGION/);
    } finally {
      if (saved.region !== undefined) process.env.AWS_REGION = saved.region;
      if (saved.def !== undefined) process.env.AWS_DEFAULT_REGION = saved.def;
    }
  });
});
