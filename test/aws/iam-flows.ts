/**
 * The flows of a real AWS backfill, driven through the real activities and backends against moto
 * (S3, Glue, SageMaker, CloudWatch) and the doubles (EMR job runs, Feature Store runtime), with every
 * client recorded (aws-calls.ts): preflight (both catalog modes), the dry run, the Spark job's submit,
 * follow and cancel (with and without a Spark publication), the catalog (partitions and crawler),
 * ingestion (batch and put), validation and the outcome metric. The Spark job itself does not run:
 * what it would write (manifest, gold, ledger commits) is put in place by the test, as the job would.
 */
import { CreateCrawlerCommand } from '@aws-sdk/client-glue';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateFeatureGroupCommand,
  DescribeFeatureGroupCommand,
  type CreateFeatureGroupCommandInput,
} from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { createActivities } from '../../src/activities';
import { createAwsBackends, type AwsBackendOptions, type AwsClients } from '../../src/activities/aws';
import { DEFAULT_CODE_PREFIX, uploadJobCode } from '../../src/activities/aws/job-code';
import type { JobHandle } from '../../src/activities/backends';
import { currentFingerprints } from '../../src/activities/ledger/fingerprint';
import { bronzeTable, manifestUri } from '../../src/activities/lake-paths';
import { goldCommitUri, type GoldCommit } from '../../src/activities/ledger/records';
import { packageJob } from '../../src/client/commands/deploy-job';
import { dateRange } from '../../src/common/dates';
import type { BackfillRequest } from '../../src/common/input';
import type { ChunkSpec } from '../../src/common/plan';
import { planPublication } from '../../src/common/publication-plan';
import { recordAwsCalls } from './aws-calls';
import { EmrDouble, type DoubleJobRun } from './emr-double';
import { FeatureStoreDouble } from './feature-store-double';
import { ACCOUNT, FAKE_CREDENTIALS, motoClients, REGION, type Moto } from './moto';
import { awsRequest, firstChunk, GOLD_FIXTURE, JOB_ROLE } from './support';
import { renderTemplate } from './templates';

const quiet = { logger: new DefaultLogger('ERROR') };

/** The names a deployment of docs/aws.md would have; the policies are filled in with the same. */
export const NAMES = {
  bucket: 'lake',
  codeBucket: 'code-bucket',
  appId: 'app-1',
  crawler: 'gold-crawler',
  glueDatabase: 'gold',
  glueTable: 'card_features',
  group: 'rt_card_features_v1',
  logUri: 's3://logs/emr',
  offlineStoreS3Uri: 's3://offline-store/feature-store',
  featureStoreRole: `arn:aws:iam::${ACCOUNT}:role/FeatureStoreOffline`,
};

export interface FlowResult {
  /** The runs the EMR double started: the job's arguments, code and log location are in them. */
  runs: DoubleJobRun[];
  /** The feature group's description (its ARN, offline store S3 location). */
  group: { arn: string; offlineStoreS3Uri: string; resolvedOutputS3Uri?: string };
  /** Records the Feature Store double received (the ingestion flows really sent them). */
  recordsWritten: number;
}

/** Runs every flow; the calls are in recordedCalls afterwards. */
export async function runFlows(moto: Moto): Promise<FlowResult> {
  const m = motoClients(moto.endpoint);
  const emrDouble = new EmrDouble();
  const fsDouble = new FeatureStoreDouble();
  await emrDouble.start();
  await fsDouble.start();
  try {
    emrDouble.applications.set(NAMES.appId, { state: 'STARTED', type: 'Spark' });
    const group = await setUp(m, moto);
    const b = backendsOf({
      ...m,
      emr: recordAwsCalls(emrDouble.client()),
      featureStore: recordAwsCalls(
        new SageMakerFeatureStoreRuntimeClient({
          region: REGION,
          endpoint: fsDouble.endpoint,
          credentials: FAKE_CREDENTIALS,
          maxAttempts: 1,
        }),
      ),
    });
    const { request: real, chunk } = await startFlows(b, m);
    await afterTheJob(b, m, real, chunk);
    return { runs: emrDouble.runs, group, recordsWritten: fsDouble.written.length };
  } finally {
    await emrDouble.stop();
    await fsDouble.stop();
  }
}

type Flows = ReturnType<typeof backendsOf>;

/** The backends a worker builds, in both catalog modes and in put mode. */
function backendsOf(clients: AwsClients) {
  const options: AwsBackendOptions = { pollIntervalMs: 10, emr: { logUri: NAMES.logUri } };
  return {
    partitions: createAwsBackends(clients, { ...options, catalogMode: 'partitions' }),
    crawler: createAwsBackends(clients, {
      ...options,
      catalogMode: 'crawler',
      crawler: { pollIntervalMs: 100, maxWaitMs: 30_000 },
      glueTable: { database: NAMES.glueDatabase, table: NAMES.glueTable },
    }),
    put: createAwsBackends(clients, { ...options, catalogMode: 'partitions', featureStoreMode: 'put' }),
  };
}

const run = <I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> =>
  new MockActivityEnvironment({ attempt: 1 }, quiet).run(fn, input);

/** Preflight and the dry run as the workflow starts them, then the Spark job: submit, follow, cancel. */
async function startFlows(b: Flows, m: Clients): Promise<{ request: BackfillRequest; chunk: ChunkSpec }> {
  const base = request({ glue: { crawlerName: NAMES.crawler } });
  const pre = await run(createActivities(b.crawler).preflight, base);
  await run(createActivities(b.partitions).preflight, request({}));
  const dry = request({ dryRun: true, emr: undefined, glue: undefined });
  const dryPre = await run(createActivities(b.partitions).preflight, dry);
  await run(createActivities(b.partitions).inspectLake, { ...dry, publication: plan(dry, dryPre.publication) });

  // Followed to SUCCESS and its manifest read; once with a Spark publication (the connector's arguments).
  const real: BackfillRequest = { ...base, jobCodeKey: pre.jobCodeKey };
  const chunk = firstChunk(real);
  const activities = createActivities(b.crawler);
  await writeManifest(m.s3, real, chunk.id, 'run-1');
  await run(activities.runSparkJob, { request: real, chunk, runName: 'wf-1/chunk-0', runId: 'run-1' });
  const spark = { ...real, publication: plan(real, pre.publication, 'spark') };
  await writeManifest(m.s3, spark, chunk.id, 'run-2');
  await run(activities.runSparkJob, { request: spark, chunk, runName: 'wf-2/chunk-0', runId: 'run-2' });
  // An operator's cancel stops a run.
  const handle: JobHandle = await b.crawler.spark.submit({ request: real, chunk, args: [], runName: 'wf-3/chunk-0' });
  // The lease's takeover check lists an ended holder's runs still going (ListJobRuns).
  await b.crawler.spark.activeRuns({ holder: 'wf-3', application: NAMES.appId });
  await b.crawler.spark.cancel(handle);
  return { request: real, chunk };
}

/** What follows the job: both catalog modes, ingestion (batch, then put), validation, the outcome metric. */
async function afterTheJob(b: Flows, m: Clients, real: BackfillRequest, chunk: ChunkSpec): Promise<void> {
  const activities = createActivities(b.crawler);
  // What the job committed: gold of run-2, with run-0 and run-1 left from earlier runs.
  const [day1, day2] = dateRange(chunk.startDate, chunk.endDate);
  for (const dt of [day1, day2]) await commitGold(m.s3, real, { dt, run: 'run-2', previous: 'run-1', rows: 120 });
  const step = { request: real, chunk, runId: 'run-2' };
  await run(createActivities(b.partitions).refreshCatalog, step); // creates database, table, partitions
  await run(activities.refreshCatalog, step); // the crawler
  await run(activities.ingestFeatures, step);
  await run(activities.ingestFeatures, step); // all published: only the ledger is read
  await run(activities.validateChunk, { ...step, spark: { manifest: emptyish(real, chunk), jobRunId: 'x' } });
  // A later run rebuilds day 1 and finds no rows for day 2: partitions switched and dropped, old gold removed.
  await commitGold(m.s3, real, { dt: day1, run: 'run-3', previous: 'run-2', rows: 120 });
  await commitGold(m.s3, real, { dt: day2, run: 'run-3', previous: 'run-2', rows: 0 });
  const step3 = { ...step, runId: 'run-3' };
  await run(createActivities(b.partitions).refreshCatalog, step3);
  await run(createActivities(b.put).ingestFeatures, step3); // PutRecord, one record a call
  await run(activities.recordBackfillOutcome, {
    workflowId: 'wf-1',
    featureGroup: real.featureGroup,
    featureVersion: real.featureVersion,
    status: 'succeeded',
    success: 1,
  });
}

function request(overrides: Parameters<typeof awsRequest>[0]): BackfillRequest {
  return awsRequest({
    bucket: NAMES.bucket,
    codeBucket: NAMES.codeBucket,
    featureGroup: NAMES.group,
    emr: { appId: NAMES.appId, jobRole: JOB_ROLE },
    glue: undefined,
    ...overrides,
  });
}

/** The publication plan the workflow makes from preflight's facts; `spark` sends every day offline through the job. */
function plan(req: BackfillRequest, facts: Parameters<typeof planPublication>[1] | undefined, publishWith?: 'spark') {
  return planPublication(
    {
      startDate: req.startDate,
      endDate: req.endDate,
      publishWith,
      targetStores: publishWith ? 'offline' : undefined,
      now: Date.parse('2026-01-01T00:00:00Z'),
    },
    facts ?? { sparkPublish: false },
  );
}

type Clients = ReturnType<typeof motoClients>;

/** What docs/aws.md has the operator create, and the lake's bronze. Sent by the test, not the code. */
async function setUp(m: Clients, moto: Moto): Promise<FlowResult['group']> {
  await moto.api('/moto-api/state-manager/set-transition', {
    model_name: 'glue::crawl',
    transition: { progression: 'time', seconds: 1 },
  });
  await m.glue.send(
    new CreateCrawlerCommand({
      Name: NAMES.crawler,
      Role: `arn:aws:iam::${ACCOUNT}:role/GlueCrawler`,
      DatabaseName: NAMES.glueDatabase,
      Targets: { S3Targets: [{ Path: `s3://${NAMES.bucket}/gold/card_features/` }] },
    }),
  );
  for (const b of [NAMES.bucket, NAMES.codeBucket, 'logs', 'offline-store'])
    await m.s3.send(new CreateBucketCommand({ Bucket: b }));
  await m.sagemaker.send(
    new CreateFeatureGroupCommand(
      renderTemplate('feature-group.json', {
        FeatureGroupName: NAMES.group,
        OfflineStoreS3Uri: NAMES.offlineStoreS3Uri,
        FeatureStoreRoleArn: NAMES.featureStoreRole,
      }) as CreateFeatureGroupCommandInput,
    ),
  );
  const described = await m.sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: NAMES.group }));
  const pkg = packageJob();
  // deploy-job is the operator's (src/client): its client is not recorded as the worker's.
  await uploadJobCode(
    new S3Client({ region: REGION, endpoint: moto.endpoint, credentials: FAKE_CREDENTIALS, forcePathStyle: true }),
    {
      codeBucket: NAMES.codeBucket,
      prefix: DEFAULT_CODE_PREFIX,
      entryPoint: pkg.entryPoint,
      pyPackage: pkg.pyPackage,
      hash: pkg.hash,
      connectorJar: new Uint8Array([0x50, 0x4b, 0x03, 0x04]),
    },
  );
  // Bronze of the days the job reads (the lookback day and a lateness day included).
  const req = request({});
  for (const dt of dateRange('2025-09-30', '2025-10-03')) {
    await m.s3.send(
      new PutObjectCommand({
        Bucket: NAMES.bucket,
        Key: `${bronzeTable(req).slice(`s3://${NAMES.bucket}/`.length)}/dt=${dt}/part-00000.json.gz`,
        Body: zlib.gzipSync('{"event_id":"e1"}\n'),
      }),
    );
  }
  return {
    arn: described.FeatureGroupArn!,
    offlineStoreS3Uri: described.OfflineStoreConfig?.S3StorageConfig?.S3Uri ?? NAMES.offlineStoreS3Uri,
    resolvedOutputS3Uri: described.OfflineStoreConfig?.S3StorageConfig?.ResolvedOutputS3Uri,
  };
}

async function put(s3: Clients['s3'], uri: string, body: string | Uint8Array): Promise<void> {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri)!;
  await s3.send(new PutObjectCommand({ Bucket: m[1], Key: m[2], Body: body }));
}

async function writeManifest(s3: Clients['s3'], req: BackfillRequest, chunkId: string, runId: string): Promise<void> {
  await put(s3, manifestUri(req, chunkId, runId), JSON.stringify({ coverage_gaps: [], output_rows: 0 }));
}

/** A day's gold as the job commits it: the run's files (and the earlier runs' ones, if missing). */
async function commitGold(
  s3: Clients['s3'],
  req: BackfillRequest,
  c: { dt: string; run: string; previous: string; rows: number },
): Promise<void> {
  const parquet = fs.readFileSync(GOLD_FIXTURE);
  const dir = (run: string) =>
    `s3://${NAMES.bucket}/gold/card_features/feature_version=${req.featureVersion}/dt=${c.dt}/run=${run}`;
  for (const r of ['run-0', 'run-1', c.run]) await put(s3, `${dir(r)}/part-00000.parquet`, parquet);
  const commit: GoldCommit = {
    dt: c.dt,
    feature_version: req.featureVersion,
    run_id: c.run,
    location: c.rows > 0 ? dir(c.run) : null,
    previous_location: dir(c.previous),
    files: c.rows > 0 ? [`${dir(c.run)}/part-00000.parquet`] : [],
    rows: c.rows,
    code_revision: 'test',
    fingerprint: currentFingerprints(req.featureVersion).build,
    committed_at: new Date(0).toISOString(),
  };
  await put(s3, goldCommitUri(req, c.dt), JSON.stringify(commit));
}

function emptyish(req: BackfillRequest, chunk: ChunkSpec) {
  return {
    feature_group: req.featureGroup,
    feature_version: req.featureVersion,
    start_date: chunk.startDate,
    end_date: chunk.endDate,
    coverage_gaps: [],
    written_partitions: [],
    output_rows_per_dt: {},
    output_rows: 0,
  } as never;
}
