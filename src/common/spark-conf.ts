/**
 * The request's sparkConf, by allow list: the tuning keys below pass; any other key only when the
 * worker allows it with BACKFILL_ALLOW_SPARK_CONF. A deny list always misses the next key that
 * loads code (spark.sql.hive.metastore.jars, spark.executor.plugins, ...). Values are checked too:
 * they end up in EMR's whitespace-split sparkSubmitParameters and on spark-submit's command line.
 * Pure: validateInput, the preflight and the Spark activity apply the same rules.
 */
import { InputError } from './input-error';

/**
 * Keys (glob patterns, matched ignoring case) any request may set: memory, cores, instances,
 * shuffle partitions, adaptive execution, dynamic allocation, EMR Serverless disk.
 */
export const ALLOWED_SPARK_CONF: readonly string[] = [
  'spark.driver.memory',
  'spark.driver.cores',
  'spark.driver.memoryOverhead',
  'spark.driver.memoryOverheadFactor',
  'spark.driver.maxResultSize',
  'spark.executor.memory',
  'spark.executor.cores',
  'spark.executor.instances',
  'spark.executor.memoryOverhead',
  'spark.executor.memoryOverheadFactor',
  'spark.memory.fraction',
  'spark.memory.storageFraction',
  'spark.default.parallelism',
  'spark.sql.shuffle.partitions',
  'spark.sql.files.maxPartitionBytes',
  'spark.sql.autoBroadcastJoinThreshold',
  'spark.sql.adaptive.*',
  'spark.dynamicAllocation.*',
  'spark.emr-serverless.driver.disk',
  'spark.emr-serverless.executor.disk',
];

/**
 * Words of keys that name classes, code or files to load (spark.sql.adaptive.customCostEvaluatorClass):
 * such a key under a pattern above still needs BACKFILL_ALLOW_SPARK_CONF.
 */
const NEVER_BY_DEFAULT = /class|plugin|jar|listener|extension|path|file|env|java|library/i;

/** What the worker's environment allows (read by src/config.ts, enforced by the activities). */
export interface WorkerAllowances {
  /** sparkConf keys or glob patterns allowed beyond ALLOWED_SPARK_CONF (BACKFILL_ALLOW_SPARK_CONF). */
  sparkConf: readonly string[];
  /** Glob patterns emr.jobRole must match (BACKFILL_ALLOWED_JOB_ROLES); undefined: any role. */
  jobRoles?: readonly string[];
}

/** allowSparkConf value: keys beyond the allow list pass validateInput; the worker's activities decide. */
export const WORKER_DECIDES = 'worker-decides';

const SPARK_CONF_KEY = /^spark\.[A-Za-z0-9._-]{1,200}$/;
/**
 * A value: Spark sizes, counts, fractions, booleans, durations, and for keys a worker allows, URIs
 * and Maven coordinates. No whitespace, quotes, `$`, `;`, `|`, `&`, `<`, `>` or backslash: nothing
 * a shell or EMR's parameter splitting could read as more than one value.
 */
const SPARK_CONF_VALUE = /^[A-Za-z0-9._:/=,+@%*#~-]{1,1024}$/;

/** Whether a glob pattern (`*` any run of characters, `?` one character) matches all of value. */
export function globMatches(pattern: string, value: string, ignoreCase = false): boolean {
  const escape = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  const source = pattern
    .split('*')
    .map((part) => part.split('?').map(escape).join('.'))
    .join('.*');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

/** Throws naming the key when it is malformed or its value could not be passed safely. */
export function checkSparkConfEntry(key: string, value: unknown): string {
  const field = `sparkConf.${key}`;
  if (!key.startsWith('spark.')) throw new InputError(field, 'Spark settings start with "spark."');
  if (!SPARK_CONF_KEY.test(key))
    throw new InputError(field, 'a key may hold only letters, digits and . _ - after "spark." (at most 200)');
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new InputError(field, 'must be a string, number or boolean');
  }
  const text = String(value);
  if (text === '' || /[\s\u0000-\u001f\u007f]/.test(text)) {
    throw new InputError(field, `${JSON.stringify(text)} is empty or contains whitespace or control characters`);
  }
  if (!SPARK_CONF_VALUE.test(text)) {
    throw new InputError(
      field,
      `${JSON.stringify(text.slice(0, 80))} may hold only letters, digits and . _ : / = , + @ % * # ~ - (at most 1024)`,
    );
  }
  return text;
}

/** Whether any request may set the key, whatever the worker's BACKFILL_ALLOW_SPARK_CONF. */
export function allowedByDefault(key: string): boolean {
  // A key the list names is allowed as it is; the words only guard what a pattern's `*` lets in.
  return ALLOWED_SPARK_CONF.some((pattern) =>
    pattern.includes('*') ? globMatches(pattern, key, true) && !NEVER_BY_DEFAULT.test(key) : pattern === key,
  );
}

/** Throws naming the key and BACKFILL_ALLOW_SPARK_CONF when the key is neither on the allow list nor allowed by the worker. */
export function checkSparkConfAllowed(key: string, allowed: readonly string[]): void {
  if (allowedByDefault(key) || allowed.some((pattern) => globMatches(pattern, key, true))) return;
  throw new InputError(
    `sparkConf.${key}`,
    `not a tuning key this backfill accepts (memory, cores, instances, shuffle partitions, spark.sql.adaptive.*, ` +
      `spark.dynamicAllocation.*, EMR Serverless disk); keys that may load code or change the job's identity are ` +
      `refused unless the worker allows them with BACKFILL_ALLOW_SPARK_CONF (e.g. BACKFILL_ALLOW_SPARK_CONF=${key} in its environment)`,
  );
}

/** The request's sparkConf as strings; keys beyond the allow list only as `allowed` says. */
export function parseSparkConf(v: unknown, allowed: readonly string[] | typeof WORKER_DECIDES): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InputError('sparkConf', 'must be an object');
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    const text = checkSparkConfEntry(key, value);
    if (allowed !== WORKER_DECIDES) checkSparkConfAllowed(key, allowed);
    result[key] = text;
  }
  return result;
}

/**
 * The worker's own checks, which the workflow cannot make itself: every sparkConf key and value
 * against the allow list and BACKFILL_ALLOW_SPARK_CONF, emr.jobRole against BACKFILL_ALLOWED_JOB_ROLES.
 * Throws an InputError naming the field and the setting.
 */
export function checkWorkerAllowances(
  request: { sparkConf: Record<string, unknown>; emr?: { jobRole: string } },
  allowances: WorkerAllowances,
): void {
  for (const [key, value] of Object.entries(request.sparkConf ?? {})) {
    checkSparkConfEntry(key, value);
    checkSparkConfAllowed(key, allowances.sparkConf);
  }
  const role = request.emr?.jobRole;
  if (role !== undefined && allowances.jobRoles && !allowances.jobRoles.some((pattern) => globMatches(pattern, role))) {
    throw new InputError(
      'emr.jobRole',
      `"${role}" is not allowed by this worker: BACKFILL_ALLOWED_JOB_ROLES allows ${allowances.jobRoles.join(', ')}`,
    );
  }
}
