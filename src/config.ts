/**
 * Process configuration, from the environment. Temporal connection settings follow the SDK's own
 * environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, profiles).
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const DEFAULT_TASK_QUEUE = 'feature-backfill';

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
  if (value !== 'local' && value !== 'aws') throw new Error(`BACKFILL_BACKEND must be "local" or "aws", got "${value}"`);
  return value;
}

export function taskQueue(env = process.env): string {
  return env.BACKFILL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
}

export function temporalConnection() {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return { connectionOptions, namespace: namespace ?? 'default' };
}

export interface LocalPaths {
  venvBin: string;
  jobDir: string;
  stateDir: string;
  featureStoreFile: string;
}

export function localPaths(env = process.env): LocalPaths {
  const root = projectRoot();
  const stateDir = env.BACKFILL_STATE_DIR ?? path.join(root, '.state');
  return {
    venvBin: env.BACKFILL_VENV_BIN ?? path.join(root, '.venv', 'bin'),
    jobDir: path.join(root, 'spark_jobs'),
    stateDir,
    featureStoreFile: env.BACKFILL_FEATURE_STORE ?? path.join(stateDir, 'feature-store.db'),
  };
}
