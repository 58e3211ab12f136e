/**
 * The AWS backend's preflight: everything a backfill needs that can be checked before any work,
 * so that a wrong setup fails at once with the resource named and what to do, instead of after a
 * Spark run (a feature group found missing at ingest time) or never (a stopped application).
 * Missing or wrong resources are final (InvalidInput); an outage stays retryable, never taken
 * for bad input (see errors.ts).
 */
import { GetApplicationCommand, type EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { GetCrawlerCommand, type GlueClient } from '@aws-sdk/client-glue';
import {
  DescribeFeatureGroupCommand,
  type DescribeFeatureGroupCommandOutput,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { ApplicationFailure } from '@temporalio/activity';
import type { BackfillRequest } from '../../common/input';
import { publisherRefusal, type PublicationFacts } from '../../common/publication-plan';
import { lakeRoot } from '../lake-paths';
import { awsErrorName, classifyAwsError, isAccessDenied } from './errors';
import type { CatalogMode } from './glue';
import { FAILURE } from '../../common/failures';
import { FEATURE_GROUP_KEYS, FEATURE_STORE_TYPES } from '../../common/lake-contract';

export interface PreflightClients {
  emr: EMRServerlessClient;
  glue: GlueClient;
  sagemaker: SageMakerClient;
}

export interface AwsPreflightOptions {
  catalogMode: CatalogMode;
  /** Ask AWS whether the application, crawler and feature group exist and fit (false: fields only). */
  checkResources: boolean;
}

/**
 * The feature group the records of feature-records.ts (goldRowToRecord) go into: contract.json's
 * features with their Feature Store types, which the contract requires of every feature (event_time
 * is String: sent as ISO-8601 text, which a Fractional event time would refuse).
 */
const FEATURE_GROUP_SCHEMA = { ...FEATURE_GROUP_KEYS, types: FEATURE_STORE_TYPES };

const invalid = (message: string) => ApplicationFailure.nonRetryable(message, FAILURE.invalidInput);

/** Rejects a request the AWS backend cannot run, naming the field or resource, before any work starts. */
export async function awsPreflight(
  clients: PreflightClients,
  options: AwsPreflightOptions,
  request: BackfillRequest,
): Promise<DescribeFeatureGroupCommandOutput | undefined> {
  checkFields(options.catalogMode, request);
  // A dry run only reads the lake: it starts no job, runs no crawler and writes no record.
  if (request.dryRun || !options.checkResources) return undefined;
  await checkEmrApplication(clients.emr, request.emr!.appId);
  if (options.catalogMode === 'crawler') await checkCrawler(clients.glue, request.glue!.crawlerName!);
  return checkFeatureGroup(clients.sagemaker, request.featureGroup);
}

function checkFields(catalogMode: CatalogMode, request: BackfillRequest): void {
  if (!lakeRoot(request.bucket).startsWith('s3://')) {
    throw invalid(
      `bucket: "${request.bucket}" is not an S3 bucket; the AWS backend needs a bucket name or an s3:// URI`,
    );
  }
  if (request.dryRun) return;
  if (!request.emr?.appId) throw invalid('emr.appId: required for the AWS backend (with emr.jobRole)');
  if (!request.emr.jobRole) throw invalid('emr.jobRole: required for the AWS backend');
  if (!request.codeBucket)
    throw invalid(
      'codeBucket: required for the AWS backend (holds the job code: run `npx backfill deploy-job --code-bucket B`)',
    );
  if (catalogMode === 'crawler' && !request.glue?.crawlerName) {
    throw invalid(
      'glue.crawlerName: required for the AWS backend in crawler mode (or set BACKFILL_CATALOG_MODE=partitions)',
    );
  }
}

/** States in which StartJobRun is taken (a STOPPED application only when it starts itself). */
const READY_STATES = new Set(['CREATED', 'STARTED']);

async function checkEmrApplication(emr: EMRServerlessClient, appId: string): Promise<void> {
  let app;
  try {
    app = (await emr.send(new GetApplicationCommand({ applicationId: appId }))).application;
  } catch (err) {
    if (awsErrorName(err) === 'ResourceNotFoundException') {
      throw invalid(
        `emr.appId: EMR Serverless application ${appId} does not exist in this account/region; create it (docs/aws.md) or fix emr.appId`,
      );
    }
    throw classify(err, `EMR GetApplication ${appId}`, 'emr-serverless:GetApplication');
  }
  const what = `emr.appId: EMR Serverless application ${appId}`;
  if (app?.type && app.type.toUpperCase() !== 'SPARK') throw invalid(`${what} is of type ${app.type}, not Spark`);
  const state = app?.state ?? 'UNKNOWN';
  if (READY_STATES.has(state)) return;
  // Auto-start is on unless turned off (EMR's default), and answers a StartJobRun by starting.
  if (state === 'STOPPED') {
    if (app?.autoStartConfiguration?.enabled !== false) return;
    throw invalid(
      `${what} is STOPPED with auto-start disabled, so it takes no job: start it (aws emr-serverless start-application --application-id ${appId}) or enable auto-start`,
    );
  }
  if (state === 'TERMINATED')
    throw invalid(`${what} is TERMINATED and takes no job: create a new application and use its id`);
  throw invalid(
    `${what} is ${state}, not ready for jobs: wait until it is CREATED or STARTED (or STOPPED with auto-start) and start the backfill again`,
  );
}

async function checkCrawler(glue: GlueClient, name: string): Promise<void> {
  try {
    await glue.send(new GetCrawlerCommand({ Name: name }));
  } catch (err) {
    if (awsErrorName(err) === 'EntityNotFoundException') {
      throw invalid(
        `glue.crawlerName: crawler "${name}" does not exist in this account/region; create it over the gold table (docs/aws.md) or use BACKFILL_CATALOG_MODE=partitions`,
      );
    }
    throw classify(err, `Glue GetCrawler ${name}`, 'glue:GetCrawler');
  }
}

/** The group's description, once it is found Created and fitting our records. */
export async function checkFeatureGroup(
  sagemaker: SageMakerClient,
  name: string,
): Promise<DescribeFeatureGroupCommandOutput> {
  const group = await describeFeatureGroup(sagemaker, name);
  const what = `featureGroup: feature group "${name}"`;
  const status = group.FeatureGroupStatus ?? 'unknown';
  if (status !== 'Created') {
    const reason = group.FailureReason ? ` (${group.FailureReason})` : '';
    const todo =
      status === 'Creating'
        ? 'wait until it is Created and start the backfill again'
        : 'create it again as docs/aws.md describes';
    throw invalid(`${what} is ${status}${reason}, not Created: ${todo}`);
  }
  const problems = featureGroupMismatches(group);
  if (problems.length > 0) {
    throw invalid(
      `${what} does not fit the records the backfill writes: ${problems.join('; ')}. Create a group with the definitions in docs/aws.md ("The feature group"), or name another featureGroup`,
    );
  }
  return group;
}

/** DescribeFeatureGroup with every page of FeatureDefinitions (2,500 a page). */
async function describeFeatureGroup(
  sagemaker: SageMakerClient,
  name: string,
): Promise<DescribeFeatureGroupCommandOutput> {
  let first: DescribeFeatureGroupCommandOutput | undefined;
  let token: string | undefined;
  do {
    let page: DescribeFeatureGroupCommandOutput;
    try {
      page = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: name, NextToken: token }));
    } catch (err) {
      if (awsErrorName(err) === 'ResourceNotFound') {
        throw invalid(
          `featureGroup: feature group "${name}" does not exist in this account/region; create it as docs/aws.md describes, or fix featureGroup`,
        );
      }
      throw classify(err, `SageMaker DescribeFeatureGroup ${name}`, 'sagemaker:DescribeFeatureGroup');
    }
    if (!first) first = { ...page, FeatureDefinitions: [...(page.FeatureDefinitions ?? [])] };
    else first.FeatureDefinitions!.push(...(page.FeatureDefinitions ?? []));
    token = page.NextToken || undefined;
  } while (token);
  return first;
}

/** What in the group would refuse our records; features of the group we do not write are fine. */
function featureGroupMismatches(group: DescribeFeatureGroupCommandOutput): string[] {
  const problems: string[] = [];
  const { recordIdentifier, eventTime, types } = FEATURE_GROUP_SCHEMA;
  if (group.RecordIdentifierFeatureName !== recordIdentifier) {
    problems.push(`record identifier is "${group.RecordIdentifierFeatureName}", the records use "${recordIdentifier}"`);
  }
  if (group.EventTimeFeatureName !== eventTime) {
    problems.push(`event time feature is "${group.EventTimeFeatureName}", the records use "${eventTime}"`);
  }
  const defined = new Map((group.FeatureDefinitions ?? []).map((d) => [d.FeatureName, d]));
  for (const [feature, type] of Object.entries(types)) {
    const d = defined.get(feature);
    if (!d) problems.push(`feature "${feature}" (${type}) is not defined`);
    else if (d.FeatureType !== type)
      problems.push(`feature "${feature}" is ${d.FeatureType}, the records send ${type}`);
    else if (d.CollectionType)
      problems.push(`feature "${feature}" is a ${d.CollectionType} collection, the records send one value`);
  }
  return problems;
}

/** classifyAwsError, with the IAM action to grant when the call was denied. */
function classify(err: unknown, what: string, action: string): unknown {
  const failure = classifyAwsError(err, what);
  if (isAccessDenied(err) && failure instanceof ApplicationFailure) {
    return ApplicationFailure.nonRetryable(
      `${failure.message}; the worker's role needs ${action} (deploy/iam/worker-policy.json)`,
      FAILURE.awsAccessDenied,
    );
  }
  return failure;
}

const TTL_UNIT_SECONDS: Record<string, number> = { Seconds: 1, Minutes: 60, Hours: 3600, Days: 86_400, Weeks: 604_800 };

/** The online store's TTL in whole days (rounded up), or undefined when the group has none. */
export function onlineTtlDays(group: Pick<DescribeFeatureGroupCommandOutput, 'OnlineStoreConfig'>): number | undefined {
  const ttl = group.OnlineStoreConfig?.TtlDuration;
  if (!ttl?.Unit || !ttl.Value) return undefined;
  return Math.ceil((ttl.Value * (TTL_UNIT_SECONDS[ttl.Unit] ?? 86_400)) / 86_400);
}

/**
 * What the publication plan needs from AWS: the group's online TTL (the default horizon), its ARN
 * (where the job's connector publishes), its offline store's table format (which publication paths
 * can write it: publication-plan.ts sparkFormatProblem), and whether the connector jar is deployed
 * beside the job code (`connectorJar`: the Spark path is only chosen by default when it is;
 * docs/aws.md). A `--publish-with spark` the table format rules out is refused here, dry run included.
 */
export async function awsPublicationFacts(
  sagemaker: SageMakerClient,
  request: BackfillRequest,
  known: { described?: DescribeFeatureGroupCommandOutput; connectorJar: boolean },
): Promise<PublicationFacts> {
  let group = known.described;
  try {
    group ??= await describeFeatureGroup(sagemaker, request.featureGroup);
  } catch (err) {
    // A dry run needs no group: without it, the default horizon stands.
    if (!request.dryRun) throw err;
  }
  const ttlDays = group && onlineTtlDays(group);
  const arn = group?.FeatureGroupArn;
  const facts: PublicationFacts = {
    onlineTtlDays: ttlDays,
    offlineStore: arn ? `sagemaker:${arn}` : undefined,
    // SageMaker's default table format is Glue: a group created without one answers none.
    offlineTableFormat: group?.OfflineStoreConfig ? (group.OfflineStoreConfig.TableFormat ?? 'Glue') : undefined,
    sparkPublish: known.connectorJar && arn !== undefined,
    sparkPublishProblem: known.connectorJar
      ? 'the feature group was not found (its ARN is where the connector publishes)'
      : 'the Feature Store Spark connector jar is not deployed with the job code (deploy-job --connector-jar; docs/aws.md)',
  };
  const refusal = publisherRefusal(request.publishWith, facts, request.featureGroup);
  if (refusal) throw invalid(refusal);
  return facts;
}
