/**
 * EMR Serverless runner against real SDK clients: moto (server mode) for the API shapes it
 * implements (StartJobRun, GetJobRun, CancelJobRun, its errors), and the wire-level double of
 * test/aws/emr-double.ts for what moto lacks (client-token idempotency, state progress, FAILED).
 */
import { CreateApplicationCommand, EMRServerlessClient, GetJobRunCommand } from '@aws-sdk/client-emr-serverless';
import * as assert from 'node:assert/strict';
import { clientToken, EmrServerlessRunner, jobStatus, type EmrJobHandle } from '../../src/activities/aws/emr';
import { SPARK_SIZES } from '../../src/activities/aws/spark-sizes';
import { chunkSettings, SIZE_THRESHOLDS } from '../../src/activities/spark/sizing';
import type { SparkJobSpec } from '../../src/activities/backends';
import { sparkJobArgs } from '../../src/activities/spark/args';
import { EmrDouble } from './emr-double';
import { motoClients, startMoto, type Moto } from './moto';
import { awsRequest, firstChunk, rejectsFinal, rejectsRetryable } from './support';
import { awsError } from './http-double';

/** A deployed job code key, as `backfill deploy-job` prints it (the workflow's preflight fixes it). */
const CODE_KEY = 'jobs/card-features/0123456789ab';

function spec(
  overrides: Parameters<typeof awsRequest>[0] = {},
  runName = 'backfill-1/chunk-2025-10-01_2025-10-02',
): SparkJobSpec {
  const request = awsRequest({ jobCodeKey: CODE_KEY, ...overrides });
  const chunk = firstChunk(request);
  return { request, chunk, args: sparkJobArgs({ request, chunk, codeRevision: 'rev-abc' }), runName };
}

describe('aws: EMR Serverless spark sizing', () => {
  it("sizes a chunk by the bronze bytes it reads (the Spark step's one rule), and sparkConf overrides it", () => {
    const GiB = 1024 ** 3;
    const sized = (bytes: number, conf: Record<string, string> = {}) => chunkSettings(SPARK_SIZES, bytes, conf);
    assert.deepEqual(
      [sized(GiB).tier, sized(GiB).conf['spark.executor.instances'], sized(GiB).conf['spark.sql.shuffle.partitions']],
      ['small', '2', '50'],
    );
    assert.equal(sized(SIZE_THRESHOLDS.medium).conf['spark.executor.instances'], '4');
    const large = sized(SIZE_THRESHOLDS.large, { 'spark.executor.memory': '24g' });
    assert.equal(large.tier, 'large');
    assert.equal(large.conf['spark.executor.cores'], '4');
    assert.equal(large.conf['spark.executor.memory'], '24g');
    assert.equal(large.conf['spark.sql.shuffle.partitions'], '200');
  });

  it('derives a client token within EMR limits, stable per run name', () => {
    const long = 'x'.repeat(500) + '/chunk-2025-10-01_2025-10-07 é';
    for (const name of ['a', long]) {
      assert.match(clientToken(name), /^[A-Za-z0-9._-]{1,64}$/);
      assert.equal(clientToken(name), clientToken(name));
    }
    assert.notEqual(clientToken('a'), clientToken('b'));
    assert.notEqual(clientToken('a', 0), clientToken('a', 1));
  });
});

describe('aws: EMR Serverless runner on moto', function () {
  let moto: Moto;
  let emr: EMRServerlessClient;
  let appId: string;
  const tokens: string[] = [];

  before(async () => {
    moto = await startMoto();
    emr = motoClients(moto.endpoint).emr;
    // Record what was sent: GetJobRun does not return the client token.
    emr.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'StartJobRunCommand')
          tokens.push((args.input as { clientToken: string }).clientToken);
        return next(args);
      },
      { step: 'initialize', name: 'recordClientToken' },
    );
    const app = await emr.send(
      new CreateApplicationCommand({ name: 'backfill', releaseLabel: 'emr-7.5.0', type: 'SPARK' }),
    );
    appId = app.applicationId!;
  });
  after(async () => moto?.stop());

  it('submits the job with entry point, py-files, arguments, the sized settings, role, name, log URI and client token', async () => {
    const runner = new EmrServerlessRunner(emr, { logUri: 's3://log-bucket/emr/' });
    const s = spec({
      emr: { appId, jobRole: 'arn:aws:iam::123456789012:role/EMRJobRole' },
      sparkConf: { 'spark.executor.memory': '10g' },
    });
    // The Spark step hands the runner the request with the chunk's sized settings (compute-gold.ts).
    const sized = chunkSettings(SPARK_SIZES, SIZE_THRESHOLDS.medium, s.request.sparkConf).conf;
    s.request = { ...s.request, sparkConf: sized };
    const handle = (await runner.submit(s)) as EmrJobHandle;
    assert.equal(handle.backend, 'emr-serverless');
    assert.equal(handle.applicationId, appId);
    assert.equal(handle.logLocation, `s3://log-bucket/emr/applications/${appId}/jobs/${handle.id}/`);
    assert.deepEqual(tokens, [clientToken(s.runName)]);

    const run = (await emr.send(new GetJobRunCommand({ applicationId: appId, jobRunId: handle.id }))).jobRun!;
    assert.equal(run.name, s.runName);
    assert.equal(run.executionRole, 'arn:aws:iam::123456789012:role/EMRJobRole');
    const submit = run.jobDriver!.sparkSubmit!;
    assert.equal(submit.entryPoint, `s3://code-bucket/${CODE_KEY}/backfill_features.py`);
    assert.deepEqual(submit.entryPointArguments, s.args);
    assert.ok(s.args.includes('--start-date') && s.args.includes('2025-10-01'));
    const params = submit.sparkSubmitParameters!;
    assert.ok(params.startsWith(`--py-files s3://code-bucket/${CODE_KEY}/card_features.zip `), params);
    // Exactly the settings handed over (medium tier, the request's memory on top): no other rule adds any.
    const confs = [...params.matchAll(/--conf (\S+)/g)].map((m) => m[1]).sort();
    assert.deepEqual(
      confs,
      Object.entries(sized)
        .map(([k, v]) => `${k}=${v}`)
        .sort(),
    );
    assert.ok(confs.includes('spark.executor.instances=4') && confs.includes('spark.executor.memory=10g'), params);
    assert.equal(
      run.configurationOverrides?.monitoringConfiguration?.s3MonitoringConfiguration?.logUri,
      's3://log-bucket/emr/',
    );
  });

  it("adds nothing of its own to the settings it is handed: a 60-day chunk with the request's one setting gets that one (moto)", async () => {
    const runner = new EmrServerlessRunner(emr);
    const s = spec(
      {
        emr: { appId, jobRole: 'arn:aws:iam::123456789012:role/EMRJobRole' },
        startDate: '2025-08-01',
        endDate: '2025-09-29',
        chunkSizeDays: 60,
        sparkConf: { 'spark.executor.memory': '10g' },
      },
      'backfill-sized/chunk-60',
    );
    assert.equal(s.chunk.days, 60);
    const handle = await runner.submit(s);
    const run = (await emr.send(new GetJobRunCommand({ applicationId: appId, jobRunId: handle.id }))).jobRun!;
    const params = run.jobDriver!.sparkSubmit!.sparkSubmitParameters!;
    assert.deepEqual(
      [...params.matchAll(/--conf (\S+)/g)].map((m) => m[1]),
      ['spark.executor.memory=10g'],
    );
    // A value EMR would split on is refused before any run starts (the worker's rules).
    const spaced = spec({ emr: { appId, jobRole: 'arn:aws:iam::123456789012:role/EMRJobRole' } }, 'backfill-spaced/c');
    spaced.request = { ...spaced.request, sparkConf: { 'spark.driver.extraJavaOptions': '-Da=1 -Db=2' } };
    await rejectsFinal(runner.submit(spaced), 'InvalidInput', /sparkConf\.spark\.driver\.extraJavaOptions/);
  });

  it('follows the run to SUCCESS, and cancels a run (moto ends runs at once)', async () => {
    const runner = new EmrServerlessRunner(emr);
    const handle = await runner.submit(
      spec({ emr: { appId, jobRole: 'arn:aws:iam::123456789012:role/EMRJobRole' } }, 'backfill-2/chunk-a'),
    );
    assert.equal((await runner.status(handle)).state, 'succeeded');
    assert.deepEqual(await runner.reattach(handle), { ...handle });
    const final = await runner.cancel(handle);
    assert.equal(final.state, 'cancelled');
    assert.match(final.detail!, /CANCELLED/);
    assert.equal((await runner.status(handle)).state, 'cancelled');
    assert.equal(await runner.reattach(handle), undefined, 'a cancelled run is not followed again');
  });

  it('turns a missing application and a cross-account role into final InvalidInput / AwsAccessDenied failures', async () => {
    const runner = new EmrServerlessRunner(emr);
    await rejectsFinal(
      runner.submit(spec({ emr: { appId: 'no-such-app', jobRole: 'arn:aws:iam::123456789012:role/R' } })),
      'InvalidInput',
      /no-such-app/,
    );
    await rejectsFinal(
      runner.submit(spec({ emr: { appId, jobRole: 'arn:aws:iam::999999999999:role/R' } })),
      'AwsAccessDenied',
      /AccessDeniedException/,
    );
  });
});

describe('aws: EMR Serverless runner on the job-run double', function () {
  const double = new EmrDouble();
  let runner: EmrServerlessRunner;

  before(async () => {
    await double.start();
    double.applications.set('app-1', { state: 'STARTED', type: 'Spark' });
    const client = double.client();
    // Short cancel polling and bound, so the tests wait milliseconds for what EMR takes minutes.
    runner = new EmrServerlessRunner(client, { logUri: 's3://log-bucket/emr', cancelPollMs: 5, cancelWaitMs: 300 });
  });
  after(async () => double.stop());

  it('a repeated submit with the same run name returns the same run, and only one run exists', async () => {
    const s = spec({}, 'backfill-idem/chunk-1');
    const a = await runner.submit(s);
    const b = await runner.submit(s);
    assert.equal(a.id, b.id);
    assert.equal(double.runs.filter((r) => r.clientToken === clientToken(s.runName)).length, 1);
    const other = await runner.submit(spec({}, 'backfill-idem/chunk-2'));
    assert.notEqual(other.id, a.id);
  });

  it('maps every state on the way to SUCCESS', async () => {
    double.scripts.push({ states: ['SUBMITTED', 'PENDING', 'QUEUED', 'SCHEDULED', 'RUNNING', 'SUCCESS'] });
    const handle = await runner.submit(spec({}, 'backfill-states/chunk-1')); // reads SUBMITTED
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) seen.push((await runner.status(handle)).state);
    assert.deepEqual(seen, ['pending', 'pending', 'pending', 'running', 'succeeded']);
  });

  it('reports a FAILED run with its state details and S3 log location, then starts a new run on the next submit', async () => {
    double.scripts.push({
      states: ['SUBMITTED', 'RUNNING', 'FAILED'],
      stateDetails: 'Job failed: java.lang.OutOfMemoryError: Java heap space',
    });
    const s = spec({}, 'backfill-fail/chunk-1');
    const handle = await runner.submit(s);
    assert.equal((await runner.status(handle)).state, 'running');
    const failed = await runner.status(handle);
    assert.equal(failed.state, 'failed');
    assert.match(failed.detail!, /OutOfMemoryError/);
    assert.match(failed.detail!, new RegExp(`s3://log-bucket/emr/applications/app-1/jobs/${handle.id}/`));

    // The activity's retry: the failed run is not followed again, and the next submit starts a new one (once).
    assert.equal(await runner.reattach(handle), undefined);
    const retry = await runner.submit(s);
    assert.notEqual(retry.id, handle.id);
    assert.equal((await runner.submit(s)).id, retry.id);
    assert.deepEqual(
      double.runs.filter((r) => r.name === s.runName).map((r) => r.clientToken),
      [clientToken(s.runName, 0), clientToken(s.runName, 1)],
    );
    assert.equal((await runner.reattach(retry))?.id, retry.id, 'a live run is followed');
  });

  it("reattach follows a run from heartbeat details only when it is this chunk's run on the request's application", async () => {
    double.scripts.push({ states: ['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING'] });
    double.scripts.push({ states: ['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING'] });
    const mine = spec({}, 'backfill-mine/chunk-1');
    const victim = await runner.submit(spec({}, 'backfill-victim/chunk-1'));
    const own = await runner.submit(mine);
    // Anyone with namespace access can heartbeat: a handle naming another backfill's run is not followed.
    assert.equal(await runner.reattach(victim, mine), undefined, "another backfill's run");
    const elsewhere = { ...own, applicationId: 'app-other' } as EmrJobHandle;
    assert.equal(await runner.reattach(elsewhere, mine), undefined, 'another application');
    assert.equal((await runner.reattach(own, mine))?.id, own.id, 'its own run is followed');
  });

  it('cancel waits through a slow CANCELLING until EMR says CANCELLED, and returns that state', async () => {
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING', 'RUNNING', 'RUNNING', 'SUCCESS'] });
    double.cancellingSteps = 4;
    try {
      const handle = await runner.submit(spec({}, 'backfill-cancel/chunk-1'));
      assert.equal((await runner.status(handle)).state, 'running');
      const from = double.calls.length;
      const polled: string[] = [];
      const final = await runner.cancel(handle, { onPoll: (s) => polled.push(s.state) });
      assert.equal(final.state, 'cancelled');
      assert.match(final.detail!, /CANCELLED: Job run cancelled by user/);
      // Nothing returned before the double answered CANCELLED, after every CANCELLING.
      assert.deepEqual(double.calls.slice(from), [
        'CancelJobRun',
        'GetJobRun CANCELLING',
        'GetJobRun CANCELLING',
        'GetJobRun CANCELLING',
        'GetJobRun CANCELLING',
        'GetJobRun CANCELLED',
      ]);
      assert.deepEqual(polled, ['running', 'running', 'running', 'running', 'cancelled']);
      // Already ended: not an error, and the state it ended in.
      assert.equal((await runner.cancel(handle)).state, 'cancelled');
    } finally {
      double.cancellingSteps = 1;
    }
  });

  it('cancel of a run that ended first reports SUCCESS; a run stuck in CANCELLING is reported after the bound', async () => {
    double.scripts.push({ states: ['SUBMITTED', 'SUCCESS'] });
    const done = await runner.submit(spec({}, 'backfill-cancel/chunk-2'));
    assert.equal((await runner.status(done)).state, 'succeeded');
    assert.equal((await runner.cancel(done)).state, 'succeeded');

    double.cancellingSteps = 1000;
    try {
      const stuck = await runner.submit(spec({}, 'backfill-cancel/chunk-3'));
      const final = await runner.cancel(stuck);
      assert.equal(final.state, 'running');
      assert.match(
        final.detail!,
        new RegExp(`EMR job run ${stuck.id} had not stopped 0.3 s after CancelJobRun .*CANCELLING.*it may still write`),
      );
    } finally {
      double.cancellingSteps = 1;
    }
  });

  it('maps every EMR state, and an unknown one to still-running (never success)', () => {
    const states = [
      'SUBMITTED',
      'PENDING',
      'SCHEDULED',
      'QUEUED',
      'RUNNING',
      'CANCELLING',
      'SUCCESS',
      'FAILED',
      'CANCELLED',
      'NEW_STATE',
    ];
    const mapped = states.map(
      (state) => jobStatus({ state: state as never, applicationId: 'a', jobRunId: 'j' } as never, 'j').state,
    );
    assert.deepEqual(mapped, [
      'pending',
      'pending',
      'pending',
      'pending',
      'running',
      'running',
      'succeeded',
      'failed',
      'cancelled',
      'running',
    ]);
  });

  it('classifies errors: throttling and 5xx retryable, validation final', async () => {
    double.faults.push(awsError(429, 'ThrottlingException', 'Rate exceeded'));
    await rejectsRetryable(runner.submit(spec({}, 'backfill-err/1')), /ThrottlingException/);
    double.faults.push(awsError(500, 'InternalServerException', 'oops'));
    await rejectsRetryable(runner.submit(spec({}, 'backfill-err/1')), /InternalServerException/);
    double.faults.push(awsError(400, 'ValidationException', 'entryPoint is invalid'));
    await rejectsFinal(
      runner.submit(spec({}, 'backfill-err/1')),
      'InvalidInput',
      /ValidationException: entryPoint is invalid/,
    );
    const ok = await runner.submit(spec({}, 'backfill-err/1'));
    assert.ok(ok.id);
  });

  it('does not follow a handle of another backend', async () => {
    assert.equal(await runner.reattach({ backend: 'local', id: '1234' }), undefined);
  });
});
