/**
 * The backfill request: the Step Functions input, unchanged, plus optional fields of our own.
 * validateInput() turns untrusted JSON into a complete request or throws an error naming the
 * field. Pure: the workflow runs it first, before any activity.
 */
import { daysBetweenInclusive, toEpochDay } from './dates';
import { planChunks } from './plan';
import { defaultFeatureGroup, definedFeatureVersions, FEATURE_VERSION_PATTERN } from './feature-versions';

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
  waitForOverlap?: unknown;
}

export interface LakePrefixes {
  bronze: string;
  silver: string;
  gold: string;
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
  /** Wait for a running backfill of the same group and version sharing days, instead of failing. */
  waitForOverlap: boolean;
}

export const DEFAULT_PREFIXES: LakePrefixes = { bronze: 'bronze/streaming', silver: 'silver', gold: 'gold' };
export const DEFAULT_MAX_CONCURRENT_CHUNKS = 2;
/** The largest maxConcurrentChunks accepted: beyond it EMR capacity, not the workflow, limits. */
export const MAX_CONCURRENT_CHUNKS_LIMIT = 64;
/** A bound that keeps one backfill's plan (and its history) sane; split longer ranges. */
export const MAX_RANGE_DAYS = 3660;

export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid input: ${field}: ${message}`);
    this.name = 'InputError';
  }
}

const KNOWN_FIELDS = new Set([
  'bucket', 'codeBucket', 'startDate', 'endDate', 'featureVersion', 'chunkSizeDays', 'overwrite', 'dryRun',
  'featureGroup', 'emr', 'glue', 'maxConcurrentChunks', 'prefixes', 'sparkConf', 'allowedLatenessDays', 'onlyChunks',
  'waitForOverlap',
]);

export function validateInput(raw: unknown): BackfillRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputError('input', 'expected a JSON object');
  }
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    // A misspelt field (say "chunkSize") would otherwise be ignored and a default used silently.
    if (!KNOWN_FIELDS.has(key)) throw new InputError(key, `unknown field; known fields: ${[...KNOWN_FIELDS].join(', ')}`);
  }
  const bucket = requiredString(input, 'bucket');
  const startDate = date(input, 'startDate');
  const endDate = date(input, 'endDate');
  if (endDate < startDate) throw new InputError('endDate', `${endDate} is before startDate ${startDate}`);
  const rangeDays = daysBetweenInclusive(startDate, endDate);
  if (rangeDays > MAX_RANGE_DAYS) {
    throw new InputError('endDate', `range of ${rangeDays} days exceeds ${MAX_RANGE_DAYS}; split it into several backfills`);
  }
  const featureVersion = optionalString(input, 'featureVersion') ?? 'v1';
  if (!FEATURE_VERSION_PATTERN.test(featureVersion)) {
    throw new InputError('featureVersion', `"${featureVersion}" is not of the form v<major> or v<major>.<minor>`);
  }
  if (!definedFeatureVersions().includes(featureVersion)) {
    throw new InputError(
      'featureVersion',
      `"${featureVersion}" is not defined; defined versions: ${definedFeatureVersions().join(', ')}`,
    );
  }
  const featureGroup = optionalString(input, 'featureGroup') ?? defaultFeatureGroup(featureVersion);
  if (!/^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$/.test(featureGroup)) {
    throw new InputError('featureGroup', `"${featureGroup}" is not a valid feature group name (letters, digits, - and _, at most 64)`);
  }
  const chunkSizeDays = positiveInt(input, 'chunkSizeDays', 1);
  return {
    bucket,
    codeBucket: optionalString(input, 'codeBucket'),
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
    prefixes: prefixes(input.prefixes),
    sparkConf: sparkConf(input.sparkConf),
    allowedLatenessDays: nonNegativeInt(input, 'allowedLatenessDays', 1),
    onlyChunks: onlyChunks(input.onlyChunks, planChunks(startDate, endDate, chunkSizeDays).map((c) => c.id)),
    waitForOverlap: bool(input, 'waitForOverlap'),
  };
}

function requiredString(o: Record<string, unknown>, field: string, path = field): string {
  const v = o[field];
  if (typeof v !== 'string' || v.trim() === '') throw new InputError(path, 'required, a non-empty string');
  return v;
}

function optionalString(o: Record<string, unknown>, field: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new InputError(field, 'must be a non-empty string');
  return v;
}

function date(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw new InputError(field, 'required, a date in YYYY-MM-DD form');
  if (toEpochDay(v) === undefined) throw new InputError(field, `"${v}" is not a date in YYYY-MM-DD form`);
  return v;
}

function positiveInt(o: Record<string, unknown>, field: string, fallback: number): number {
  const v = o[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InputError(field, `must be a whole number of at least 1, got ${JSON.stringify(v)}`);
  }
  return v;
}

function concurrency(o: Record<string, unknown>): number {
  const v = positiveInt(o, 'maxConcurrentChunks', DEFAULT_MAX_CONCURRENT_CHUNKS);
  if (v > MAX_CONCURRENT_CHUNKS_LIMIT) throw new InputError('maxConcurrentChunks', `must be at most ${MAX_CONCURRENT_CHUNKS_LIMIT}, got ${v}`);
  return v;
}

function nonNegativeInt(o: Record<string, unknown>, field: string, fallback: number): number {
  const v = o[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new InputError(field, `must be a whole number of at least 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

function bool(o: Record<string, unknown>, field: string): boolean {
  const v = o[field] ?? false;
  if (typeof v !== 'boolean') throw new InputError(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function object(v: unknown, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InputError(field, 'must be an object');
  return v as Record<string, unknown>;
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

function prefixes(v: unknown): LakePrefixes {
  const o = object(v, 'prefixes') ?? {};
  const result = { ...DEFAULT_PREFIXES };
  for (const key of Object.keys(o)) {
    if (!(key in result)) throw new InputError(`prefixes.${key}`, 'unknown prefix; known: bronze, silver, gold');
    result[key as keyof LakePrefixes] = requiredString(o, key, `prefixes.${key}`).replace(/^\/+|\/+$/g, '');
  }
  return result;
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

function sparkConf(v: unknown): Record<string, string> {
  const o = object(v, 'sparkConf') ?? {};
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(o)) {
    if (!key.startsWith('spark.')) throw new InputError(`sparkConf.${key}`, 'Spark settings start with "spark."');
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new InputError(`sparkConf.${key}`, 'must be a string, number or boolean');
    }
    result[key] = String(value);
  }
  return result;
}
