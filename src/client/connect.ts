/**
 * The Temporal connection of the CLI (the SDK's environment configuration: TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE) and lookups of a backfill
 * that turn server errors into messages saying what to change.
 */
import {
  Client,
  Connection,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { temporalConnection } from '../config';
import { UsageError } from './usage';

export interface Temporal {
  client: Client;
  connection: Connection;
  namespace: string;
  address: string;
  close(): Promise<void>;
}

export async function connectTemporal(): Promise<Temporal> {
  let config: ReturnType<typeof temporalConnection>;
  try {
    config = temporalConnection();
  } catch (err) {
    throw new UsageError(
      `Temporal connection settings: ${(err as Error).message}; check TEMPORAL_* variables and TEMPORAL_PROFILE`,
    );
  }
  const { connectionOptions, namespace } = config;
  const address = connectionOptions.address ?? 'localhost:7233';
  const connection = await Connection.connect(connectionOptions).catch((err: Error) => {
    throw new UsageError(
      `cannot reach Temporal at ${address} (${err.message}); start the local one with scripts/temporal-dev-server.sh, or set TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE, TEMPORAL_API_KEY for Temporal Cloud)`,
    );
  });
  const client = new Client({ connection, namespace });
  return { client, connection, namespace, address, close: () => connection.close() };
}

/** Link to the workflow in the Temporal Web UI (BACKFILL_UI_URL overrides the guess). */
export function uiUrl(address: string, namespace: string, workflowId: string): string {
  const base =
    process.env.BACKFILL_UI_URL ??
    (/^(localhost|127\.0\.0\.1)(:\d+)?$/.test(address)
      ? 'http://localhost:8233'
      : /\.tmprl\.cloud(:\d+)?$/.test(address)
        ? 'https://cloud.temporal.io'
        : `https://${address.replace(/:\d+$/, '')}`);
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Describes a backfill, or says it does not exist and how to find the right id. */
export async function describeBackfill(
  handle: WorkflowHandle,
  namespace: string,
): Promise<WorkflowExecutionDescription> {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError') {
      throw new UsageError(
        `no backfill with id "${handle.workflowId}" in namespace ${namespace}; find it with backfill list, or check the flags that make up the id`,
      );
    }
    throw err;
  }
}

/** Runs a call that needs a worker (query, update) with a deadline, so a missing worker is reported, not waited on. */
export async function withWorker<T>(
  temporal: Temporal,
  ms: number,
  what: string,
  taskQueue: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await temporal.connection.withDeadline(Date.now() + ms, fn);
  } catch (err) {
    const e = err as { code?: number; message?: string };
    // gRPC DEADLINE_EXCEEDED (4): nobody polls the task queue, or the worker is stuck.
    if (e.code === 4 || /deadline/i.test(e.message ?? '')) {
      throw new WorkerUnavailableError(
        `${what}: no worker answered within ${Math.round(ms / 1000)} s on task queue ${taskQueue}; start one (npm run worker, or rerun the backfill run command that started it: it resumes where it stopped)`,
      );
    }
    throw err;
  }
}

export class WorkerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerUnavailableError';
  }
}
