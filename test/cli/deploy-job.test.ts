/**
 * `backfill deploy-job` against moto S3, the AWS preflight that resolves and checks the deployed
 * job code, and the EMR runner submitting a job run at the uploaded key (EMR job-run double).
 */
import { CreateApplicationCommand, EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createActivities } from '../../src/activities';
import { createAwsBackends } from '../../src/activities/aws';
import { manifestUri } from '../../src/activities/lake-paths';
import { main } from '../../src/client/cli';
import { packageJob } from '../../src/client/commands/deploy-job';
import { validateInput } from '../../src/common/input';
import { planPublication } from '../../src/common/publication-plan';
import { CONNECTOR_JAR_FILE, connectorJarDeployed } from '../../src/activities/aws/job-code';
import { EmrDouble } from '../aws/emr-double';
import { FAKE_CREDENTIALS, motoClients, REGION, ROOT, startMoto, type Moto } from '../aws/moto';
import { awsRequest, firstChunk, JOB_ROLE, rejectsFinal } from '../aws/support';
import { fakeIo } from './support';

const quiet = { logger: new DefaultLogger('ERROR') };
const minimalInput = { bucket: 'lake', startDate: '2025-10-01', endDate: '2025-10-02' };

async function bytesOf(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Names and timestamps of a zip's entries, as Python's zipfile reads them. */
function zipEntries(zip: Buffer): [string, number[]][] {
  const file = path.join(os.tmpdir(), `entries-${process.pid}.zip`);
  fs.writeFileSync(file, zip);
  try {
    const script =
      'import json,sys,zipfile; print(json.dumps([[i.filename, list(i.date_time)] for i in zipfile.ZipFile(sys.argv[1]).infolist()]))';
    return JSON.parse(
      execFileSync(path.join(ROOT, '.venv', 'bin', 'python'), ['-c', script, file], { encoding: 'utf8' }),
    );
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe('cli: backfill deploy-job (moto S3), preflight of the job code, and job runs at the uploaded key', function () {
  let moto: Moto;
  let s3: S3Client;
  let emr: EMRServerlessClient;
  const deps = () => ({ awsClients: () => ({ emr, s3 }) });

  before(async () => {
    moto = await startMoto();
    ({ s3, emr } = motoClients(moto.endpoint));
    for (const Bucket of ['code-bucket', 'other-code', 'empty-code', 'lake'])
      await s3.send(new CreateBucketCommand({ Bucket }));
  });
  after(async () => moto?.stop());

  it('uploads the entry point and a reproducible zip under a content-hashed key, sets LATEST and prints the key', async () => {
    const io = fakeIo();
    assert.equal(await main(['deploy-job', '--code-bucket', 'code-bucket'], io, deps()), 0, io.stderr());
    const key = io.stdout();
    assert.match(key, /^jobs\/card-features\/[0-9a-f]{12}$/);
    assert.equal(
      (await bytesOf(s3, 'code-bucket', `${key}/backfill_features.py`)).toString(),
      fs.readFileSync(path.join(ROOT, 'spark_jobs', 'backfill_features.py'), 'utf8'),
    );
    const zip = await bytesOf(s3, 'code-bucket', `${key}/card_features.zip`);
    const entries = zipEntries(zip);
    const names = entries.map(([n]) => n);
    assert.deepEqual(names, [...names].sort(), 'entries sorted');
    assert.ok(
      names.includes('card_features/__init__.py') &&
        names.includes('card_features/definitions.json') &&
        names.includes('card_features/contract.json') &&
        names.includes('card_features/job.py'),
      names.join(),
    );
    assert.ok(
      names.every((n) => n.startsWith('card_features/') && !n.includes('__pycache__') && /\.(py|json)$/.test(n)),
      names.join(),
    );
    assert.ok(
      entries.every(([, t]) => t.join() === '1980,1,1,0,0,0'),
      'fixed timestamps',
    );
    assert.equal((await bytesOf(s3, 'code-bucket', 'jobs/card-features/LATEST')).toString().trim(), key);
    assert.match(
      io.stderr(),
      new RegExp(`uploaded s3://code-bucket/${key}/backfill_features.py and card_features.zip`),
    );

    // The same sources again: the same key and bytes, nothing new in the bucket.
    const again = fakeIo();
    assert.equal(await main(['deploy-job', '--code-bucket', 'code-bucket'], again, deps()), 0, again.stderr());
    assert.equal(again.stdout(), key);
    assert.ok((await bytesOf(s3, 'code-bucket', `${key}/card_features.zip`)).equals(zip));
    const listed = (await s3.send(new ListObjectsV2Command({ Bucket: 'code-bucket' })))
      .Contents!.map((o) => o.Key)
      .sort();
    assert.deepEqual(
      listed,
      [`${key}/backfill_features.py`, `${key}/card_features.zip`, 'jobs/card-features/LATEST'].sort(),
    );
  });

  it('builds the same bytes whatever the file times and caches, and a new key when a source changes', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-src-'));
    try {
      fs.cpSync(path.join(ROOT, 'spark_jobs', 'backfill_features.py'), path.join(copy, 'backfill_features.py'));
      fs.cpSync(path.join(ROOT, 'spark_jobs', 'card_features'), path.join(copy, 'card_features'), {
        recursive: true,
        filter: (src) => !src.includes('__pycache__'),
      });
      const original = packageJob(copy);
      const pkg = path.join(copy, 'card_features');
      const later = new Date(Date.now() + 86_400_000);
      for (const f of fs.readdirSync(pkg)) fs.utimesSync(path.join(pkg, f), later, later);
      fs.mkdirSync(path.join(pkg, '__pycache__'));
      fs.writeFileSync(path.join(pkg, '__pycache__', 'job.cpython-312.pyc'), 'bytecode');
      fs.writeFileSync(path.join(pkg, '.job.py.swp'), 'editor');
      const touched = packageJob(copy);
      assert.equal(touched.hash, original.hash);
      assert.ok(touched.pyPackage.equals(original.pyPackage));

      fs.appendFileSync(path.join(pkg, 'transform.py'), '\n# changed\n');
      assert.notEqual(packageJob(copy).hash, original.hash);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('takes --prefix, and refuses a missing or bad --code-bucket and a bad --prefix', async () => {
    const io = fakeIo();
    assert.equal(
      await main(['deploy-job', '--code-bucket', 'other-code', '--prefix', 'team/jobs/'], io, deps()),
      0,
      io.stderr(),
    );
    assert.match(io.stdout(), /^team\/jobs\/[0-9a-f]{12}$/);
    assert.equal((await bytesOf(s3, 'other-code', 'team/jobs/LATEST')).toString().trim(), io.stdout());

    for (const [argv, message] of [
      [[], /--code-bucket BUCKET is required/],
      [['--code-bucket', 'Bad Bucket'], /--code-bucket: "Bad Bucket" is not an S3 bucket name/],
      [['--code-bucket', 'code-bucket', '--prefix', 'a/../b'], /--prefix: "a\/\.\.\/b" is not a key prefix/],
    ] as const) {
      const bad = fakeIo();
      assert.equal(await main(['deploy-job', ...argv], bad, deps()), 2);
      assert.match(bad.stderr(), message);
    }
    const missing = fakeIo();
    assert.notEqual(await main(['deploy-job', '--code-bucket', 'no-such-bucket'], missing, deps()), 0);
    assert.match(missing.stderr(), /no-such-bucket/);
  });

  it('a jobCodeKey in the workflow input is a relative key with nothing that could split the Spark command', () => {
    assert.equal(
      validateInput({ ...minimalInput, jobCodeKey: 'jobs/card-features/0123456789ab' }).jobCodeKey,
      'jobs/card-features/0123456789ab',
    );
    for (const bad of ['jobs/x --conf spark.jars=s3://evil/x.jar', '../other/0123', '/abs/key', 'jobs/', '']) {
      assert.throws(
        () => validateInput({ ...minimalInput, jobCodeKey: bad }),
        /^InputError: invalid input: jobCodeKey: /,
      );
    }
  });

  it('preflight resolves the latest deployed key, and fails naming the missing object and deploy-job', async () => {
    const appId = (
      await emr.send(new CreateApplicationCommand({ name: 'backfill', releaseLabel: 'emr-7.5.0', type: 'SPARK' }))
    ).applicationId!;
    const backends = createAwsBackends(
      { emr, glue: motoClients(moto.endpoint).glue, s3, featureStore: {} as never, sagemaker: {} as never },
      { catalogMode: 'partitions', checkResources: false },
    );
    const request = (codeBucket: string, jobCodeKey?: string) =>
      awsRequest({ bucket: 'lake', codeBucket, emr: { appId, jobRole: JOB_ROLE }, glue: undefined, jobCodeKey });

    await rejectsFinal(
      backends.preflight!(request('empty-code')),
      'InvalidInput',
      /^codeBucket: no job code deployed \(s3:\/\/empty-code\/jobs\/card-features\/LATEST does not exist\); run `npx backfill deploy-job --code-bucket empty-code`/,
    );
    const io = fakeIo();
    assert.equal(await main(['deploy-job', '--code-bucket', 'empty-code'], io, deps()), 0, io.stderr());
    const key = io.stdout();
    assert.deepEqual(await backends.preflight!(request('empty-code')), { jobCodeKey: key });
    assert.deepEqual(await backends.preflight!(request('empty-code', key)), { jobCodeKey: key });
    assert.deepEqual(
      await backends.preflight!({ ...request('empty-code'), dryRun: true }),
      {},
      'a dry run needs no code',
    );

    await rejectsFinal(
      backends.preflight!(request('empty-code', 'jobs/card-features/000000000000')),
      'InvalidInput',
      /^jobCodeKey: job code object s3:\/\/empty-code\/jobs\/card-features\/000000000000\/backfill_features\.py does not exist; run `npx backfill deploy-job/,
    );
    await s3.send(new DeleteObjectCommand({ Bucket: 'empty-code', Key: `${key}/card_features.zip` }));
    await rejectsFinal(
      backends.preflight!(request('empty-code')),
      'InvalidInput',
      new RegExp(
        `^codeBucket: job code object s3://empty-code/${key}/card_features\\.zip does not exist; run \`npx backfill deploy-job --code-bucket empty-code\``,
      ),
    );
  });

  it('the EMR runner submits the job at the uploaded key: the key preflight fixed, else LATEST', async () => {
    const double = new EmrDouble();
    await double.start();
    try {
      double.applications.set('app-1', { state: 'STARTED', type: 'Spark' });
      const doubleEmr = new EMRServerlessClient({
        region: REGION,
        endpoint: double.endpoint,
        credentials: FAKE_CREDENTIALS,
        maxAttempts: 1,
      });
      const backends = createAwsBackends(
        {
          emr: doubleEmr,
          glue: motoClients(moto.endpoint).glue,
          s3,
          featureStore: {} as never,
          sagemaker: {} as never,
        },
        { catalogMode: 'partitions', pollIntervalMs: 10, checkResources: false },
      );
      const io = fakeIo();
      assert.equal(await main(['deploy-job', '--code-bucket', 'code-bucket'], io, deps()), 0, io.stderr());
      const key = io.stdout();
      const request = awsRequest({ bucket: 'lake', codeBucket: 'code-bucket', glue: undefined });
      const chunk = firstChunk(request);
      await backends.lake.writeText(
        manifestUri(request, chunk.id, 'run-1'),
        JSON.stringify({ written_partitions: [], output_rows: 0 }),
      );
      const { jobCodeKey } = (await backends.preflight!(request)) as { jobCodeKey: string };
      assert.equal(jobCodeKey, key);

      const activities = createActivities(backends);
      await new MockActivityEnvironment({}, quiet).run(activities.runSparkJob, {
        request: { ...request, jobCodeKey },
        chunk,
        runName: 'wf-code/chunk',
        runId: 'run-1',
      });
      await new MockActivityEnvironment({}, quiet).run(activities.runSparkJob, {
        request,
        chunk,
        runName: 'wf-latest/chunk',
        runId: 'run-1',
      });
      assert.equal(double.runs.length, 2);
      for (const run of double.runs) {
        const submit = (run.jobDriver as { sparkSubmit: { entryPoint: string; sparkSubmitParameters: string } })
          .sparkSubmit;
        assert.equal(submit.entryPoint, `s3://code-bucket/${key}/backfill_features.py`);
        assert.ok(
          submit.sparkSubmitParameters.startsWith(`--py-files s3://code-bucket/${key}/card_features.zip `),
          submit.sparkSubmitParameters,
        );
      }
    } finally {
      await double.stop();
    }
  });

  it('--connector-jar uploads the connector jar beside the code (a new key); jobs that publish to the offline store get it with --jars', async () => {
    const jar = path.join(os.tmpdir(), `connector-${process.pid}.jar`);
    // A jar is a zip: the header is what deploy-job checks.
    fs.writeFileSync(jar, Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from('connector classes')]));
    const double = new EmrDouble();
    await double.start();
    try {
      const plain = fakeIo();
      assert.equal(await main(['deploy-job', '--code-bucket', 'code-bucket'], plain, deps()), 0, plain.stderr());
      const io = fakeIo();
      assert.equal(
        await main(['deploy-job', '--code-bucket', 'code-bucket', '--connector-jar', jar], io, deps()),
        0,
        io.stderr(),
      );
      const key = io.stdout();
      assert.notEqual(key, plain.stdout(), 'the jar is part of the version');
      assert.ok((await bytesOf(s3, 'code-bucket', `${key}/${CONNECTOR_JAR_FILE}`)).equals(fs.readFileSync(jar)));
      assert.equal(await connectorJarDeployed(s3, 'code-bucket', key), true);
      assert.equal(await connectorJarDeployed(s3, 'code-bucket', plain.stdout()), false);
      const bad = fakeIo();
      assert.equal(await main(['deploy-job', '--code-bucket', 'code-bucket', '--connector-jar', ROOT], bad, deps()), 2);
      assert.match(bad.stderr(), /--connector-jar: cannot read/);

      double.applications.set('app-1', { state: 'STARTED', type: 'Spark' });
      const backends = createAwsBackends(
        {
          emr: new EMRServerlessClient({
            region: REGION,
            endpoint: double.endpoint,
            credentials: FAKE_CREDENTIALS,
            maxAttempts: 1,
          }),
          glue: motoClients(moto.endpoint).glue,
          s3,
          featureStore: {} as never,
          sagemaker: {} as never,
        },
        { catalogMode: 'partitions', pollIntervalMs: 10, checkResources: false },
      );
      const base = awsRequest({
        bucket: 'lake',
        codeBucket: 'code-bucket',
        glue: undefined,
        startDate: '2025-10-01',
        endDate: '2025-10-02',
        chunkSizeDays: 2,
      });
      const publication = planPublication(
        { ...base, targetStores: 'offline', publishWith: 'spark', now: Date.now() },
        { sparkPublish: true, offlineStore: 'sagemaker:arn:aws:sagemaker:us-east-1:123456789012:feature-group/g' },
      );
      const request = { ...base, jobCodeKey: key, publication };
      const chunk = firstChunk(request);
      await backends.lake.writeText(
        manifestUri(request, chunk.id, 'run-1'),
        JSON.stringify({ written_partitions: [], output_rows: 0 }),
      );
      await new MockActivityEnvironment({}, quiet).run(createActivities(backends).runSparkJob, {
        request,
        chunk,
        runName: 'wf-jar/chunk',
        runId: 'run-1',
      });
      const submit = (
        double.runs.at(-1)!.jobDriver as {
          sparkSubmit: { entryPointArguments: string[]; sparkSubmitParameters: string };
        }
      ).sparkSubmit;
      assert.match(
        submit.sparkSubmitParameters,
        new RegExp(`--jars s3://code-bucket/${key}/jars/sagemaker-feature-store-spark-sdk\\.jar( |$)`),
      );
      const args = submit.entryPointArguments;
      assert.equal(args[args.indexOf('--offline-publish-dates') + 1], '2025-10-01,2025-10-02');
      assert.equal(args[args.indexOf('--offline-store') + 1], publication.offlineStore);
    } finally {
      await double.stop();
      fs.rmSync(jar, { force: true });
    }
  });
});
