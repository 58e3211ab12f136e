/**
 * Process configuration, from the environment. Temporal connection settings follow the SDK's own
 * environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, profiles).
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WorkerAllowances } from './common/input';
import { parseLadder, type MemoryLadder } from './common/memory-ladder';

/**
 * Default task queue of each backend: separate, so a local run's activities never land on an AWS
 * worker of the same namespace, nor the other way round.
 */
export const DEFAULT_TASK_QUEUES = { local: 'feature-backfill-local', aws: 'feature-backfill' } as const;

/** The checkout's root (holds package.json), from src/ or from compiled lib/src/. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

export type BackendName = 'local' | 'aws';

export function backendName(env = process.env): BackendName {
  const value = env.BACKFILL_BACKEND ?? 'local';
  if (value !== 'local' && value !== 'aws')
    throw new Error(`BACKFILL_BACKEND must be "local" or "aws", got "${value}"`);
  return value;
}

/** BACKFILL_TASK_QUEUE, or the backend's default queue (the backend from BACKFILL_BACKEND unless given). */
export function taskQueue(env = process.env, backend: BackendName = backendName(env)): string {
  return env.BACKFILL_TASK_QUEUE || DEFAULT_TASK_QUEUES[backend];
}

/**
 * What this worker lets a request do beyond the workflow's own checks: BACKFILL_ALLOW_SPARK_CONF
 * (comma-separated restricted sparkConf keys or glob patterns, e.g. `spark.jars.packages`) and
 * BACKFILL_ALLOWED_JOB_ROLES (comma-separated glob patterns emr.jobRole must match, e.g.
 * `arn:aws:iam::123456789012:role/backfill-*`; unset or blank: any role).
 */
export function workerAllowances(env = process.env): WorkerAllowances {
  const list = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const jobRoles = list(env.BACKFILL_ALLOWED_JOB_ROLES);
  return { sparkConf: list(env.BACKFILL_ALLOW_SPARK_CONF), jobRoles: jobRoles.length ? jobRoles : undefined };
}

export function temporalConnection() {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return { connectionOptions, namespace: namespace ?? 'default' };
}

export interface LocalPaths {
  venvBin: string;
  jobDir: string;
  stateDir: string;
}

export function localPaths(env = process.env): LocalPaths {
  const root = projectRoot();
  const stateDir = env.BACKFILL_STATE_DIR ?? path.join(root, '.state');
  return {
    venvBin: env.BACKFILL_VENV_BIN ?? path.join(root, '.venv', 'bin'),
    jobDir: path.join(root, 'spark_jobs'),
    stateDir,
  };
}

/** The Spark setting each backend's memory ladder raises: executors on EMR, the one local JVM for spark-submit. */
export const MEMORY_LADDER_KEYS: Record<BackendName, string> = {
  local: 'spark.driver.memory',
  aws: 'spark.executor.memory',
};

/** The rungs a Spark run out of memory climbs when BACKFILL_SPARK_MEMORY_LADDER is unset. */
export const DEFAULT_MEMORY_LADDERS: Record<BackendName, string> = { local: '2g,4g,8g', aws: '8g,16g,30g' };

/**
 * The worker's memory ladder (src/activities/memory-ladder.ts): a run that failed out of memory is
 * run again with the next rung. BACKFILL_SPARK_MEMORY_LADDER: comma-separated Spark memory sizes,
 * @default '8g,16g,30g' on AWS (spark.executor.memory), '2g,4g,8g' locally (spark.driver.memory).
 * BACKFILL_SPARK_MEMORY_MAX: the largest rung this worker may use (bigger ones are dropped); `0` or
 * an empty ladder turns escalation off.
 * @default no cap beyond the ladder's top rung
 */
export function sparkMemoryLadder(backend: BackendName, env = process.env): MemoryLadder | undefined {
  const ladder = env.BACKFILL_SPARK_MEMORY_LADDER ?? DEFAULT_MEMORY_LADDERS[backend];
  const cap = env.BACKFILL_SPARK_MEMORY_MAX?.trim() || undefined;
  if (cap === '0') return undefined;
  try {
    const parsed = parseLadder(MEMORY_LADDER_KEYS[backend], ladder, cap);
    return parsed.rungs.length ? parsed : undefined;
  } catch (err) {
    throw new Error(`BACKFILL_SPARK_MEMORY_LADDER / BACKFILL_SPARK_MEMORY_MAX: ${(err as Error).message}`);
  }
}
