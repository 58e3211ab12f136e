/**
 * The AWS backends as the worker builds them: from the environment (endpoints from
 * AWS_ENDPOINT_URL, pointed at moto), preflight of requests, and the runSparkJob activity
 * following an EMR run across attempts (EMR job-run double) and reading its manifest from S3 (moto).
 */
import { CreateApplicationCommand } from '@aws-sdk/client-emr-serverless';
import { CreateCrawlerCommand, CreateDatabaseCommand } from '@aws-sdk/client-glue';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateFeatureGroupCommand, type CreateFeatureGroupCommandInput } from '@aws-sdk/client-sagemaker';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import * as assert from 'node:assert/strict';
import {
  awsBackendOptionsFromEnv,
  createAwsBackends,
  createAwsBackendsFromEnv,
  createAwsClientsFromEnv,
  type AwsBackends,
} from '../../src/activities/aws';
import { GluePartitionCatalog } from '../../src/activities/aws/glue';
import { GlueCrawlerCatalog } from '../../src/activities/aws/glue-crawler';
import { DEFAULT_CODE_PREFIX, uploadJobCode } from '../../src/activities/aws/job-code';
import { packageJob } from '../../src/client/commands/deploy-job';
import { createActivities } from '../../src/activities';
import type { JobHandle } from '../../src/activities/backends';
import { manifestUri } from '../../src/activities/lake-paths';
import type { SparkJobResult } from '../../src/common/results';
import { EmrDouble } from './emr-double';
import { FAKE_CREDENTIALS, fixMotoEmrTimestamps, motoClients, REGION, startMoto, type Moto } from './moto';
import { awsRequest, firstChunk, JOB_ROLE, rejectsFinal } from './support';
import { renderTemplate } from './templates';

// The activity's info logs would bury the test output; warnings and errors still show.
const quiet = { logger: new DefaultLogger('ERROR') };

describe('aws: backends from the environment, preflight, and the Spark activity', function () {
  let moto: Moto;
  let appId: string;
  let env: NodeJS.ProcessEnv;
  const saved = { ...process.env };

  before(async () => {
    moto = await startMoto();
    const { emr, glue, s3, sagemaker } = motoClients(moto.endpoint);
    appId = (
      await emr.send(new CreateApplicationCommand({ name: 'backfill', releaseLabel: 'emr-7.5.0', type: 'SPARK' }))
    ).applicationId!;
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'gold' } }));
    await glue.send(
      new CreateCrawlerCommand({
        Name: 'gold-crawler',
        Role: 'arn:aws:iam::123456789012:role/G',
        DatabaseName: 'gold',
        Targets: { S3Targets: [{ Path: 's3://lake/gold/' }] },
      }),
    );
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
    // The feature group of awsRequest(), as docs/aws.md has it created (preflight describes it).
    const group = {
      FeatureGroupName: 'rt_card_features_v1',
      OfflineStoreS3Uri: 's3://lake/offline',
      FeatureStoreRoleArn: JOB_ROLE,
    };
    await sagemaker.send(
      new CreateFeatureGroupCommand(renderTemplate('feature-group.json', group) as CreateFeatureGroupCommandInput),
    );
    // The job code, deployed as `backfill deploy-job` does: preflight and the EMR runner look for it.
    await s3.send(new CreateBucketCommand({ Bucket: 'code-bucket' }));
    const pkg = packageJob();
    await uploadJobCode(s3, {
      codeBucket: 'code-bucket',
      prefix: DEFAULT_CODE_PREFIX,
      entryPoint: pkg.entryPoint,
      pyPackage: pkg.pyPackage,
      hash: pkg.hash,
    });
    env = {
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    };
    // The SDK reads credentials and endpoints from process.env when a call is made, as in the worker.
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, env);
  });
  after(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await moto?.stop();
  });

  /** What createAwsBackendsFromEnv() builds, with moto's EMR timestamps fixed on the wire (see moto.ts). */
  async function fromEnv(extra: NodeJS.ProcessEnv = {}): Promise<AwsBackends> {
    const clients = createAwsClientsFromEnv({ ...env, ...extra });
    fixMotoEmrTimestamps(clients.emr);
    return createAwsBackends(clients, awsBackendOptionsFromEnv({ ...env, ...extra }));
  }

  it('reads options from BACKFILL_* variables and refuses bad ones', () => {
    assert.deepEqual(awsBackendOptionsFromEnv({ BACKFILL_CATALOG_MODE: 'partitions' }).glueTable, {
      database: 'gold',
      table: 'card_features',
    });
    assert.deepEqual(
      awsBackendOptionsFromEnv({ BACKFILL_CATALOG_MODE: 'partitions', BACKFILL_GLUE_DATABASE: 'features' }).glueTable,
      { database: 'features', table: 'card_features' },
    );
    assert.deepEqual(awsBackendOptionsFromEnv({ BACKFILL_CATALOG_MODE: 'crawler' }).glueTable, {});
    assert.equal(
      awsBackendOptionsFromEnv({}).catalogMode,
      'partitions',
      'partition registration by default (atomic switch per day)',
    );
    assert.equal(awsBackendOptionsFromEnv({ BACKFILL_EMR_LOG_URI: 's3://logs/emr' }).emr?.logUri, 's3://logs/emr');
    assert.throws(
      () => awsBackendOptionsFromEnv({ BACKFILL_CATALOG_MODE: 'crawl' }),
      /BACKFILL_CATALOG_MODE must be "crawler" or "partitions"/,
    );
    assert.throws(
      () => awsBackendOptionsFromEnv({ BACKFILL_POLL_INTERVAL_MS: 'soon' }),
      /BACKFILL_POLL_INTERVAL_MS must be a whole number/,
    );
    return assert.rejects(createAwsBackendsFromEnv({}), /needs AWS_REGION/);
  });

  it('builds working clients from AWS_ENDPOINT_URL (S3 path-style) and picks the catalog mode', async () => {
    const crawler = (await createAwsBackendsFromEnv({ ...env, BACKFILL_CATALOG_MODE: 'crawler' })) as AwsBackends;
    assert.equal(crawler.name, 'aws');
    assert.ok(crawler.catalog instanceof GlueCrawlerCatalog);
    await crawler.lake.writeText('s3://lake/_probe/x.txt', 'hello');
    assert.equal(await crawler.lake.readText('s3://lake/_probe/x.txt'), 'hello');
    const partitions = await fromEnv({ BACKFILL_CATALOG_MODE: 'partitions' });
    assert.ok(partitions.catalog instanceof GluePartitionCatalog);
  });

  it('preflight names the missing or wrong field, and checks the application, crawler and feature group exist', async () => {
    const backends = await fromEnv({ BACKFILL_CATALOG_MODE: 'crawler' });
    const ok = awsRequest({ bucket: 'lake', emr: { appId, jobRole: JOB_ROLE } });
    // Every client from AWS_ENDPOINT_URL, the SageMaker one (DescribeFeatureGroup) included.
    await backends.preflight!(ok);
    await rejectsFinal(backends.preflight!(awsRequest({ emr: undefined })), 'InvalidInput', /^emr\.appId: required/);
    await rejectsFinal(
      backends.preflight!(awsRequest({ codeBucket: undefined, emr: { appId, jobRole: JOB_ROLE } })),
      'InvalidInput',
      /^codeBucket: required/,
    );
    await rejectsFinal(
      backends.preflight!(awsRequest({ glue: undefined, emr: { appId, jobRole: JOB_ROLE } })),
      'InvalidInput',
      /^glue\.crawlerName: required/,
    );
    await rejectsFinal(
      backends.preflight!(awsRequest({ bucket: '/tmp/lake' })),
      'InvalidInput',
      /^bucket: .* is not an S3 bucket/,
    );
    await rejectsFinal(
      backends.preflight!(awsRequest({ emr: { appId: 'no-such-app', jobRole: JOB_ROLE } })),
      'InvalidInput',
      /^emr\.appId: .*no-such-app does not exist/,
    );
    await rejectsFinal(
      backends.preflight!(awsRequest({ emr: { appId, jobRole: JOB_ROLE }, glue: { crawlerName: 'nope' } })),
      'InvalidInput',
      /^glue\.crawlerName: crawler "nope" does not exist/,
    );
    // Partitions mode needs no crawler; a dry run needs neither EMR nor a crawler.
    const partitions = await fromEnv({ BACKFILL_CATALOG_MODE: 'partitions' });
    await partitions.preflight!(awsRequest({ glue: undefined, emr: { appId, jobRole: JOB_ROLE } }));
    await backends.preflight!(awsRequest({ dryRun: true, emr: undefined, glue: undefined, codeBucket: undefined }));
  });

  it('runSparkJob follows the EMR run of an earlier attempt, and replaces a failed one, then reads the manifest', async () => {
    const double = new EmrDouble();
    await double.start();
    try {
      double.applications.set('app-1', { state: 'STARTED', type: 'Spark' });
      const { glue, s3 } = motoClients(moto.endpoint);
      const emr = double.client();
      const backends = createAwsBackends(
        { emr, glue, s3, featureStore: {} as never, sagemaker: {} as never }, // not used by runSparkJob
        { pollIntervalMs: 10, emr: { logUri: 's3://logs/emr' } },
      );
      const activities = createActivities(backends);
      const request = awsRequest({ bucket: 'lake' });
      const chunk = firstChunk(request);
      const runId = 'run-1';
      const input = (runName: string) => ({ request, chunk, runName, runId });
      // The job's manifest, as the Spark job leaves it at the run's own path.
      await backends.lake.writeText(
        manifestUri(request, chunk.id, runId),
        JSON.stringify({ coverage_gaps: ['2025-10-01'], output_rows: 3 }),
      );

      // Attempt 1 submitted a run and heartbeated its handle; the worker died. Attempt 2 follows it.
      double.scripts.push({ states: ['SUBMITTED', 'RUNNING', 'RUNNING', 'SUCCESS'] });
      const first = await backends.spark.submit({ request, chunk, args: [], runName: 'wf-1/chunk' });
      const heartbeats: unknown[] = [];
      const env2 = new MockActivityEnvironment({ heartbeatDetails: first, attempt: 2 }, quiet);
      env2.on('heartbeat', (d: unknown) => heartbeats.push(d));
      const result = (await env2.run(activities.runSparkJob, input('wf-1/chunk'))) as SparkJobResult;
      assert.equal(result.jobRunId, first.id);
      assert.deepEqual(result.manifest.coverage_gaps, ['2025-10-01'], 'read from the manifest of this run');
      assert.equal(double.runs.length, 1, 'no second run');
      assert.equal((heartbeats[0] as JobHandle).id, first.id);

      // A run that failed: the next attempt starts a new run (a new client token) and succeeds.
      double.scripts.push({ states: ['SUBMITTED', 'FAILED'], stateDetails: 'Executor lost' });
      double.scripts.push({ states: ['SUBMITTED', 'RUNNING', 'SUCCESS'] });
      const env3 = new MockActivityEnvironment({ attempt: 1 }, quiet);
      await assert.rejects(
        env3.run(activities.runSparkJob, input('wf-2/chunk')),
        /FAILED: Executor lost \(logs: s3:\/\/logs\/emr\/applications\/app-1\/jobs\//,
      );
      const failedRun = double.runs.at(-1)!;
      const env4 = new MockActivityEnvironment(
        { attempt: 2, heartbeatDetails: { backend: 'emr-serverless', id: failedRun.jobRunId, applicationId: 'app-1' } },
        quiet,
      );
      const retried = (await env4.run(activities.runSparkJob, input('wf-2/chunk'))) as SparkJobResult;
      assert.notEqual(retried.jobRunId, failedRun.jobRunId);
      assert.equal(double.runs.length, 3);
    } finally {
      await double.stop();
    }
  });
});
