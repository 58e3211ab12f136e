/**
 * The backfill request: the Step Functions input, unchanged, plus optional fields of our own.
 * validateInput() turns untrusted JSON into a complete request or throws an error naming the
 * field. Pure: the workflow runs it first, before any activity.
 */
import { addDays, daysBetweenInclusive, fromEpochDay } from './dates';
import { planChunks } from './plan';
import type { PublicationPlan, Publisher, TargetStoresChoice } from './publication-plan';
import { InputError } from './input-error';
import {
  bool,
  date,
  location,
  matching,
  nonNegativeInt,
  object,
  oneOf,
  optionalString,
  positiveInt,
  requiredString,
} from './input-fields';
import { lakePrefixes, relativePath, type LakePrefixes } from './lake-prefixes';
import { parseSparkConf, WORKER_DECIDES } from './spark-conf';
import { taskPriorityChoice, type TaskPriorityChoice } from './task-priority';
import {
  defaultFeatureGroup,
  definedFeatureVersions,
  FEATURE_VERSION_FORM,
  FEATURE_VERSION_PATTERN,
} from './feature-versions';

export { InputError } from './input-error';
export { DEFAULT_PREFIXES, type LakePrefixes } from './lake-prefixes';
export { checkWorkerAllowances, WORKER_DECIDES, type WorkerAllowances } from './spark-conf';

/** What callers send (`temporal workflow start --input`, the CLI, the Step Functions JSON). */
export interface BackfillInput {
  bucket?: unknown;
  codeBucket?: unknown;
  startDate?: unknown;
  endDate?: unknown;
  featureVersion?: unknown;
  chunkSizeDays?: unknown;
  overwrite?: unknown;
  dryRun?: unknown;
  featureGroup?: unknown;
  emr?: unknown;
  glue?: unknown;
  maxConcurrentChunks?: unknown;
  prefixes?: unknown;
  sparkConf?: unknown;
  allowedLatenessDays?: unknown;
  onlyChunks?: unknown;
  republish?: unknown;
  resumeRunId?: unknown;
  jobCodeKey?: unknown;
  allowIncompleteDays?: unknown;
  waitForOverlap?: unknown;
  acceptDefinitionChange?: unknown;
  onlineHorizonDays?: unknown;
  targetStores?: unknown;
  publishWith?: unknown;
  priority?: unknown;
}

/** A validated request with every default filled in. */
export interface BackfillRequest {
  /** S3 bucket name, s3:// URI, or a local lake directory. */
  bucket: string;
  codeBucket?: string;
  startDate: string;
  endDate: string;
  featureVersion: string;
  chunkSizeDays: number;
  overwrite: boolean;
  dryRun: boolean;
  featureGroup: string;
  emr?: { appId: string; jobRole: string };
  glue?: { crawlerName: string };
  maxConcurrentChunks: number;
  prefixes: LakePrefixes;
  sparkConf: Record<string, string>;
  allowedLatenessDays: number;
  /** Run only these chunks of the plan (ids as in a report), e.g. to retry the failed ones. */
  onlyChunks?: string[];
  /** Send gold that has no publication record (e.g. written by the old pipeline) to the feature store once. */
  republish: boolean;
  /** Run id of an ended backfill whose committed gold this run resumes. */
  resumeRunId?: string;
  /** S3 key of the deployed job code to run (relative, as printed by the deploy command). */
  jobCodeKey?: string;
  /** Accept an endDate whose late events may still be arriving (see validateInput). */
  allowIncompleteDays: boolean;
  /** Wait for a running backfill of the same group and version sharing days, instead of failing. */
  waitForOverlap: boolean;
  /** Add days of a version whose definition fingerprint differs from its days already built (refused otherwise). */
  acceptDefinitionChange: boolean;
  /**
   * Days before today whose records still go to the online store; older days go offline only. 0: no
   * horizon (every day to both stores).
   * @default the feature group's online TTL if it has one, else DEFAULT_ONLINE_HORIZON_DAYS (7)
   */
  onlineHorizonDays?: number;
  /** Send every day to these stores, whatever the horizon. */
  targetStores?: TargetStoresChoice;
  /**
   * What writes the offline-only days: the Spark job (offline store, no API quota) or the API.
   * @default spark from SPARK_PUBLISH_MIN_DAYS offline-only days on, where the backend's job can publish
   */
  publishWith?: Publisher;
  /**
   * Temporal task priority of the backfill's activities and chunk workflows (task-priority.ts).
   * @default priorityKey 4 (after production's default 3), fairnessKey the backfill's workflow id
   */
  priority?: TaskPriorityChoice;
  /** Fixed by the workflow after preflight (publication-plan.ts); not an input field. */
  publication?: PublicationPlan;
}

export const DEFAULT_MAX_CONCURRENT_CHUNKS = 2;
/** The largest maxConcurrentChunks accepted: beyond it EMR capacity, not the workflow, limits. */
export const MAX_CONCURRENT_CHUNKS_LIMIT = 64;
/** A bound that keeps one backfill's plan (and its history) sane: 20 years; split longer ranges. */
export const MAX_RANGE_DAYS = 7305;
/** The largest allowedLatenessDays: each chunk reads that many days of bronze after its own. */
const MAX_ALLOWED_LATENESS_DAYS = 30;

const KNOWN_FIELDS = new Set([
  'bucket',
  'codeBucket',
  'startDate',
  'endDate',
  'featureVersion',
  'chunkSizeDays',
  'overwrite',
  'dryRun',
  'featureGroup',
  'emr',
  'glue',
  'maxConcurrentChunks',
  'prefixes',
  'sparkConf',
  'allowedLatenessDays',
  'onlyChunks',
  'republish',
  'resumeRunId',
  'jobCodeKey',
  'allowIncompleteDays',
  'waitForOverlap',
  'acceptDefinitionChange',
  'onlineHorizonDays',
  'targetStores',
  'publishWith',
  'priority',
]);

/** How validateInput() decides what depends on the caller's clock and on the worker's settings. */
export interface ValidateOptions {
  /**
   * The caller's current time (ms since the epoch); "today" is its UTC day. In a workflow,
   * Date.now() is the deterministic workflow time.
   * @default Date.now()
   */
  now?: number;
  /**
   * sparkConf keys beyond the allow list (ALLOWED_SPARK_CONF in spark-conf.ts) this caller allows:
   * keys or glob patterns, or WORKER_DECIDES to let them through for the worker's activities to
   * decide against BACKFILL_ALLOW_SPARK_CONF (the workflow cannot read the worker's environment).
   * @default [] (only the allow list)
   */
  allowSparkConf?: readonly string[] | typeof WORKER_DECIDES;
}

export function validateInput(raw: unknown, options: ValidateOptions = {}): BackfillRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputError('input', 'expected a JSON object');
  }
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    // A misspelt field (say "chunkSize") would otherwise be ignored and a default used silently.
    if (!KNOWN_FIELDS.has(key))
      throw new InputError(key, `unknown field; known fields: ${[...KNOWN_FIELDS].join(', ')}`);
  }
  const bucket = location(requiredString(input, 'bucket'), 'bucket');
  const codeBucketValue = optionalString(input, 'codeBucket');
  const { startDate, endDate, allowedLatenessDays, allowIncompleteDays } = dateRangeOf(
    input,
    options.now ?? Date.now(),
  );
  const { featureVersion, featureGroup } = featureOf(input);
  const chunkSizeDays = positiveInt(input, 'chunkSizeDays', 1);
  return {
    bucket,
    codeBucket: codeBucketValue === undefined ? undefined : location(codeBucketValue, 'codeBucket'),
    startDate,
    endDate,
    featureVersion,
    chunkSizeDays,
    overwrite: bool(input, 'overwrite'),
    dryRun: bool(input, 'dryRun'),
    featureGroup,
    emr: emr(input.emr),
    glue: glue(input.glue),
    maxConcurrentChunks: concurrency(input),
    prefixes: lakePrefixes(input.prefixes),
    sparkConf: parseSparkConf(input.sparkConf, options.allowSparkConf ?? []),
    allowedLatenessDays,
    onlyChunks: onlyChunks(
      input.onlyChunks,
      planChunks(startDate, endDate, chunkSizeDays).map((c) => c.id),
    ),
    republish: bool(input, 'republish'),
    resumeRunId: matching(input, 'resumeRunId', /^[A-Za-z0-9-]{1,64}$/, 'a run id: 1 to 64 letters, digits and -'),
    jobCodeKey: jobCodeKey(input),
    allowIncompleteDays,
    waitForOverlap: bool(input, 'waitForOverlap'),
    acceptDefinitionChange: bool(input, 'acceptDefinitionChange'),
    ...publicationChoices(input),
    ...priorityChoice(input),
  };
}

/** The feature version (one defined in definitions.json) and its group (by default the version's). */
function featureOf(input: Record<string, unknown>): Pick<BackfillRequest, 'featureVersion' | 'featureGroup'> {
  const featureVersion = optionalString(input, 'featureVersion') ?? 'v1';
  if (!FEATURE_VERSION_PATTERN.test(featureVersion)) {
    throw new InputError('featureVersion', `"${featureVersion}" is not of the form ${FEATURE_VERSION_FORM}`);
  }
  if (!definedFeatureVersions().includes(featureVersion)) {
    throw new InputError(
      'featureVersion',
      `"${featureVersion}" is not defined; defined versions: ${definedFeatureVersions().join(', ')}`,
    );
  }
  const featureGroup = optionalString(input, 'featureGroup') ?? defaultFeatureGroup(featureVersion);
  if (!/^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$/.test(featureGroup)) {
    throw new InputError(
      'featureGroup',
      `"${featureGroup}" is not a valid feature group name (letters, digits, - and _, at most 64)`,
    );
  }
  return { featureVersion, featureGroup };
}

/** The task priority, only when given (old requests and continue-as-new carries have none). */
function priorityChoice(input: Record<string, unknown>): Pick<BackfillRequest, 'priority'> {
  const priority = taskPriorityChoice(input.priority);
  return priority ? { priority } : {};
}

/** The longest online horizon accepted: beyond ten years every day is "recent" anyway; use 0. */
export const MAX_ONLINE_HORIZON_DAYS = 3650;

/** onlineHorizonDays, targetStores and publishWith, each only when given. */
function publicationChoices(
  input: Record<string, unknown>,
): Pick<BackfillRequest, 'onlineHorizonDays' | 'targetStores' | 'publishWith'> {
  const out: Pick<BackfillRequest, 'onlineHorizonDays' | 'targetStores' | 'publishWith'> = {};
  if (input.onlineHorizonDays !== undefined && input.onlineHorizonDays !== null) {
    const days = nonNegativeInt(input, 'onlineHorizonDays', 0);
    if (days > MAX_ONLINE_HORIZON_DAYS)
      throw new InputError(
        'onlineHorizonDays',
        `must be at most ${MAX_ONLINE_HORIZON_DAYS} (0 for no horizon), got ${days}`,
      );
    out.onlineHorizonDays = days;
  }
  const stores = oneOf(input, 'targetStores', ['offline', 'online', 'both'] as const);
  if (stores) out.targetStores = stores;
  const publisher = oneOf(input, 'publishWith', ['spark', 'api'] as const);
  if (publisher) out.publishWith = publisher;
  if (stores && out.onlineHorizonDays !== undefined)
    throw new InputError(
      'targetStores',
      'give either targetStores or onlineHorizonDays, not both: targetStores sends every day to the same stores',
    );
  if (stores === 'online' && publisher === 'spark')
    throw new InputError('publishWith', 'spark publishes to the offline store only; targetStores online needs the API');
  return out;
}

/**
 * The dates, the range bound and the lateness window. The last day may not be one whose late
 * events can still arrive: the job reads a day's bronze up to allowedLatenessDays after it, and
 * today's bronze is still being written, so day D is complete once D + allowedLatenessDays < today.
 */
function dateRangeOf(input: Record<string, unknown>, now: number) {
  const startDate = date(input, 'startDate');
  const endDate = date(input, 'endDate');
  if (endDate < startDate) throw new InputError('endDate', `${endDate} is before startDate ${startDate}`);
  const rangeDays = daysBetweenInclusive(startDate, endDate);
  if (rangeDays > MAX_RANGE_DAYS) {
    throw new InputError(
      'endDate',
      `range of ${rangeDays} days exceeds ${MAX_RANGE_DAYS} (20 years); split it into several backfills`,
    );
  }
  const allowedLatenessDays = nonNegativeInt(input, 'allowedLatenessDays', 1);
  if (allowedLatenessDays > MAX_ALLOWED_LATENESS_DAYS) {
    throw new InputError(
      'allowedLatenessDays',
      `must be at most ${MAX_ALLOWED_LATENESS_DAYS}, got ${allowedLatenessDays}`,
    );
  }
  const allowIncompleteDays = bool(input, 'allowIncompleteDays');
  const today = fromEpochDay(Math.floor(now / 86_400_000));
  const lastComplete = addDays(today, -allowedLatenessDays - 1);
  if (!allowIncompleteDays && endDate > lastComplete) {
    throw new InputError(
      'endDate',
      `${endDate} is after ${lastComplete}, the last day whose late events (allowedLatenessDays ${allowedLatenessDays}) ` +
        `have all arrived by today, ${today} (UTC); gold written now for a later day would miss its late events, and ` +
        `later runs skip days already in gold. End at ${lastComplete}, or set allowIncompleteDays: true ` +
        `(backfill run --allow-incomplete-days) to backfill incomplete days anyway`,
    );
  }
  return { startDate, endDate, allowedLatenessDays, allowIncompleteDays };
}

function jobCodeKey(o: Record<string, unknown>): string | undefined {
  const v = optionalString(o, 'jobCodeKey');
  if (v === undefined) return undefined;
  relativePath(v, 'jobCodeKey');
  if (!/^[A-Za-z0-9._/-]+$/.test(v))
    throw new InputError('jobCodeKey', `${JSON.stringify(v)} may hold only letters, digits and . _ / -`);
  // A key prefix such as jobs/card-features/0123456789ab: "jobs/" would name a folder, not a version.
  if (v.endsWith('/'))
    throw new InputError('jobCodeKey', `${JSON.stringify(v)} ends with "/"; give the key deploy-job printed`);
  return v;
}

function concurrency(o: Record<string, unknown>): number {
  const v = positiveInt(o, 'maxConcurrentChunks', DEFAULT_MAX_CONCURRENT_CHUNKS);
  if (v > MAX_CONCURRENT_CHUNKS_LIMIT)
    throw new InputError('maxConcurrentChunks', `must be at most ${MAX_CONCURRENT_CHUNKS_LIMIT}, got ${v}`);
  return v;
}

function emr(v: unknown): BackfillRequest['emr'] {
  const o = object(v, 'emr');
  if (!o) return undefined;
  return { appId: requiredString(o, 'appId', 'emr.appId'), jobRole: requiredString(o, 'jobRole', 'emr.jobRole') };
}

function glue(v: unknown): BackfillRequest['glue'] {
  const o = object(v, 'glue');
  if (!o) return undefined;
  return { crawlerName: requiredString(o, 'crawlerName', 'glue.crawlerName') };
}

function onlyChunks(v: unknown, planned: string[]): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0 || !v.every((id) => typeof id === 'string')) {
    throw new InputError('onlyChunks', 'must be a non-empty list of chunk ids such as "2025-10-01_2025-10-07"');
  }
  const unknown = v.filter((id) => !planned.includes(id));
  if (unknown.length) throw new InputError('onlyChunks', `not chunks of this plan: ${unknown.join(', ')}`);
  return v;
}
