/** What the subcommands acting on one backfill share: parse the target, connect, describe it. */
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { BackfillInput } from '../../common/input';
import type { BackfillReport } from '../../common/results';
import { progressQuery, type BackfillProgress } from '../../workflows/api';
import type { ChunkPageRequest } from '../../common/chunk-book';
import { connectTemporal, describeBackfill, uiUrl, withWorker, type Temporal } from '../connect';
import { TARGET_FLAGS, targetWorkflowId } from '../target';
import { parseFlags, UsageError, type FlagSpec } from '../usage';

export interface Target<V> {
  values: V;
  workflowId: string;
  temporal: Temporal;
  handle: WorkflowHandle;
  description: WorkflowExecutionDescription;
  ui: string;
}

/**
 * Parses the flags (the target's and the command's own), checks them (`check`, before connecting,
 * so bad usage is reported even without a server), connects, and describes the backfill.
 */
export async function openTarget<F extends FlagSpec>(
  command: string,
  argv: string[],
  flags: F,
  check?: (values: Record<string, unknown>) => void,
) {
  const { values, positionals } = parseFlags(command, argv, { ...TARGET_FLAGS, ...flags }, true);
  const workflowId = targetWorkflowId(command, positionals, values);
  check?.(values);
  const temporal = await connectTemporal();
  try {
    const handle = temporal.client.workflow.getHandle(workflowId);
    const description = await describeBackfill(handle, temporal.namespace);
    if (description.type !== 'backfillWorkflow') {
      throw new UsageError(
        `"${workflowId}" is a ${description.type}, not a backfill; give the backfill's id (backfill list shows them)`,
      );
    }
    return {
      values,
      workflowId,
      temporal,
      handle,
      description,
      ui: uiUrl(temporal.address, temporal.namespace, workflowId),
    };
  } catch (err) {
    await temporal.close();
    throw err;
  }
}

/** A running backfill's progress; the query needs a worker, so it has a deadline. */
export function queryProgress(
  t: Pick<Target<unknown>, 'temporal' | 'handle' | 'description'>,
  ms = 10_000,
  page?: ChunkPageRequest,
): Promise<BackfillProgress> {
  return withWorker(t.temporal, ms, 'progress query', t.description.taskQueue, () =>
    t.handle.query(progressQuery, page),
  );
}

export function requireRunning(t: Pick<Target<unknown>, 'workflowId' | 'description'>, what: string): void {
  const status = t.description.status.name;
  if (status !== 'RUNNING') {
    throw new UsageError(
      `backfill ${t.workflowId} is not running (${status}): nothing to ${what}; see backfill status ${t.workflowId}`,
    );
  }
}

/** The report of a completed backfill. */
export async function reportOf(handle: WorkflowHandle): Promise<BackfillReport> {
  return (await handle.result()) as BackfillReport;
}

/**
 * The input a backfill run was started with (a continued run keeps it as its first argument):
 * `runId`'s, or the latest run's. Decoded by the handle's client, with its data converter and
 * payload codecs, as that client encodes what it starts.
 */
export async function startInput(handle: WorkflowHandle, runId?: string): Promise<BackfillInput> {
  const { client } = handle;
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: handle.workflowId, runId },
    // The start event is the first.
    maximumPageSize: 1,
  });
  const payloads = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
  if (!payloads?.length) throw new Error(`the history of ${handle.workflowId} holds no start input`);
  return decodeFromPayloadsAtIndex<BackfillInput>(client.options.loadedDataConverter, 0, payloads);
}
