/**
 * AWS backends: EMR Serverless (Spark), Glue (catalog), SageMaker Feature Store, S3 (lake).
 * createAwsBackends() takes SDK clients (tests hand in emulator-backed ones);
 * createAwsBackendsFromEnv() builds them from the standard AWS environment. See docs/aws.md.
 */
import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import type { Backends, IngestOptions } from '../backends';
import type { MemoryLadder } from '../../common/memory-ladder';
import { sparkMemoryLadder } from '../../config';
import { DEFAULT_EMR_POLL_MS, EmrServerlessRunner, type EmrRunnerOptions } from './emr';
import { SPARK_SIZES } from './spark-sizes';
import { connectorJarDeployed, latestJobCodeKey, resolveJobCode } from './job-code';
import type { BackfillRequest } from '../../common/input';
import { SageMakerFeatureStore, type WriteMode } from './feature-store';
import { DEFAULT_GOLD_TABLE, GluePartitionCatalog, type CatalogMode, type GlueTableName } from './glue';
import { GlueCrawlerCatalog, type CrawlerCatalogOptions } from './glue-crawler';
import { CloudWatchOutcomeRecorder } from './cloudwatch';
import { awsPreflight, awsPublicationFacts } from './preflight';
import { S3Lake } from './s3-lake';

export interface AwsClients {
  emr: EMRServerlessClient;
  glue: GlueClient;
  s3: S3Client;
  featureStore: SageMakerFeatureStoreRuntimeClient;
  /** SageMaker control plane: preflight describes the feature group. */
  sagemaker: SageMakerClient;
  /** Where each backfill's end is recorded for alarms; unset: not recorded. */
  cloudwatch?: CloudWatchClient;
}

export interface AwsBackendOptions {
  catalogMode?: CatalogMode;
  /** Glue database/table: partitions mode registers into it; crawler mode reads partitions back from it. */
  glueTable?: Partial<GlueTableName>;
  crawler?: Omit<CrawlerCatalogOptions, 'table'>;
  emr?: EmrRunnerOptions;
  featureStoreMode?: WriteMode;
  codeRevision?: string;
  pollIntervalMs?: number;
  ingestOptions?: Partial<IngestOptions>;
  /**
   * The spark.executor.memory rungs a run out of memory climbs.
   * @default sparkMemoryLadder('aws') in src/config.ts: BACKFILL_SPARK_MEMORY_LADDER, else 8g, 16g, 30g
   */
  memoryLadder?: MemoryLadder;
  /**
   * Preflight also asks AWS whether the EMR application, the crawler and the feature group exist and fit.
   * @default true
   */
  checkResources?: boolean;
  /**
   * CloudWatch namespace of the `BackfillPipelineSuccess` metric recorded at each backfill's end.
   * @default 'P1Unified' (the Step Functions pipeline's alarm)
   */
  outcomeNamespace?: string;
}

export type AwsBackends = Backends & {
  lake: S3Lake;
  spark: EmrServerlessRunner;
  catalog: GlueCrawlerCatalog | GluePartitionCatalog;
  featureStore: SageMakerFeatureStore;
  catalogMode: CatalogMode;
};

export function createAwsBackends(clients: AwsClients, options: AwsBackendOptions = {}): AwsBackends {
  const catalogMode = options.catalogMode ?? 'partitions';
  const lake = new S3Lake(clients.s3);
  const catalog =
    catalogMode === 'crawler'
      ? new GlueCrawlerCatalog(clients.glue, { ...options.crawler, table: defined(options.glueTable ?? {}) })
      : new GluePartitionCatalog(clients.glue, lake, { table: defined(options.glueTable ?? {}) });
  const featureStore = new SageMakerFeatureStore(clients.featureStore, { mode: options.featureStoreMode });
  return {
    name: 'aws',
    catalogMode,
    lake,
    spark: new EmrServerlessRunner(clients.emr, options.emr, clients.s3),
    catalog,
    featureStore,
    featureStoreFor: () => featureStore,
    outcome: clients.cloudwatch
      ? new CloudWatchOutcomeRecorder(clients.cloudwatch, options.outcomeNamespace)
      : undefined,
    codeRevision: options.codeRevision,
    pollIntervalMs: options.pollIntervalMs ?? DEFAULT_EMR_POLL_MS,
    ingestOptions: defined(options.ingestOptions ?? {}),
    // The original guide's tuning table, picked per chunk by bronze bytes (spark/sizing.ts).
    sparkSizes: SPARK_SIZES,
    memoryLadder: 'memoryLadder' in options ? options.memoryLadder : sparkMemoryLadder('aws', {}),
    preflight: async (request) => {
      const checkResources = options.checkResources ?? true;
      const described = await awsPreflight(clients, { catalogMode, checkResources }, request);
      const prefix = options.emr?.codePrefix;
      // A dry run starts no job. Otherwise the job code is fixed here, once for the whole backfill.
      const jobCodeKey = request.dryRun
        ? undefined
        : await resolveJobCode(clients.s3, request.codeBucket!, request.jobCodeKey, prefix);
      if (!checkResources) return jobCodeKey ? { jobCodeKey } : {};
      // The online TTL (the default horizon), the group's ARN and whether the connector jar is deployed.
      const connectorJar = await connectorJarOf(clients.s3, request, jobCodeKey, prefix);
      const publication = await awsPublicationFacts(clients.sagemaker, request, { described, connectorJar });
      return jobCodeKey ? { jobCodeKey, publication } : { publication };
    },
  };
}

/** Whether the connector jar is beside the job code (a dry run looks beside the latest deployed code, if any). */
async function connectorJarOf(
  s3: S3Client,
  request: BackfillRequest,
  jobCodeKey: string | undefined,
  prefix: string | undefined,
): Promise<boolean> {
  if (!request.codeBucket) return false;
  try {
    const key = jobCodeKey ?? (await latestJobCodeKey(s3, request.codeBucket, prefix));
    return key ? await connectorJarDeployed(s3, request.codeBucket, key) : false;
  } catch (err) {
    // A dry run only shows the plan: a code bucket it cannot read means no Spark path, not a failure.
    if (request.dryRun) return false;
    throw err;
  }
}

/**
 * Clients from the standard AWS environment: AWS_REGION, credentials, and endpoints from
 * AWS_ENDPOINT_URL or the per-service AWS_ENDPOINT_URL_EMR_SERVERLESS, _GLUE, _S3, _SAGEMAKER,
 * _SAGEMAKER_FEATURESTORE_RUNTIME (the SDK reads these itself).
 */
export function createAwsClientsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsClients {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region)
    throw new Error(
      'BACKFILL_BACKEND=aws needs AWS_REGION (the region of the EMR application, crawler and feature group)',
    );
  const s3Endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return {
    emr: new EMRServerlessClient({ region }),
    glue: new GlueClient({ region }),
    // Emulators and most S3-compatible endpoints want path-style addressing.
    s3: new S3Client({ region, forcePathStyle: flag(env.BACKFILL_S3_FORCE_PATH_STYLE) ?? s3Endpoint !== undefined }),
    // One try per call: the ingest loop does its own backoff and concurrency control on throttling,
    // which SDK-level retries would hide from it.
    featureStore: new SageMakerFeatureStoreRuntimeClient({ region, maxAttempts: 1 }),
    sagemaker: new SageMakerClient({ region }),
    cloudwatch: new CloudWatchClient({ region }),
  };
}

/** Backend options from BACKFILL_* variables (documented in docs/aws.md). */
export function awsBackendOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsBackendOptions {
  // Partitions by default: each day's partition is switched to its current gold in one call (atomic
  // overwrite for readers); a crawler would catalog every run's directory of a day (docs/aws.md).
  const mode = env.BACKFILL_CATALOG_MODE ?? 'partitions';
  if (mode !== 'crawler' && mode !== 'partitions') {
    throw new Error(`BACKFILL_CATALOG_MODE must be "crawler" or "partitions", got "${mode}"`);
  }
  const fsMode = env.BACKFILL_FEATURE_STORE_WRITE ?? 'batch';
  if (fsMode !== 'batch' && fsMode !== 'put') {
    throw new Error(`BACKFILL_FEATURE_STORE_WRITE must be "batch" or "put", got "${fsMode}"`);
  }
  return {
    catalogMode: mode,
    // Partitions mode defaults to gold.card_features; crawler mode to where the crawler writes.
    glueTable: defined({
      database: env.BACKFILL_GLUE_DATABASE ?? (mode === 'partitions' ? DEFAULT_GOLD_TABLE.database : undefined),
      table: env.BACKFILL_GLUE_TABLE ?? (mode === 'partitions' ? DEFAULT_GOLD_TABLE.table : undefined),
    }),
    crawler: {
      pollIntervalMs: int(env, 'BACKFILL_CRAWLER_POLL_MS'),
      maxWaitMs: int(env, 'BACKFILL_CRAWLER_MAX_WAIT_MS'),
    },
    emr: {
      logUri: env.BACKFILL_EMR_LOG_URI,
      codePrefix: env.BACKFILL_CODE_PREFIX,
      executionTimeoutMinutes: int(env, 'BACKFILL_EMR_TIMEOUT_MINUTES'),
    },
    featureStoreMode: fsMode,
    codeRevision: env.BACKFILL_CODE_REVISION,
    pollIntervalMs: int(env, 'BACKFILL_POLL_INTERVAL_MS'),
    ingestOptions: defined({ maxInFlight: int(env, 'BACKFILL_INGEST_MAX_IN_FLIGHT') }),
    memoryLadder: sparkMemoryLadder('aws', env),
    checkResources: flag(env.BACKFILL_PREFLIGHT_CHECK_RESOURCES),
    outcomeNamespace: env.BACKFILL_CLOUDWATCH_NAMESPACE || undefined,
  };
}

export async function createAwsBackendsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Backends> {
  return createAwsBackends(createAwsClientsFromEnv(env), awsBackendOptionsFromEnv(env));
}

/** Drops undefined fields, so that spreading the result over defaults keeps the defaults. */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function int(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${v}"`);
  return n;
}

function flag(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`expected true or false, got "${v}"`);
}
