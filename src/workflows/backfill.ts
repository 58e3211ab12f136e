/**
 * The backfill: validate the request, plan chunks, run them as child workflows oldest first with
 * at most maxConcurrentChunks in flight, and report. A failed chunk does not stop the others.
 */
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  defineQuery,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackfillActivities } from '../activities';
import { InputError, validateInput, type BackfillInput, type BackfillRequest } from '../common/input';
import { planChunks } from '../common/plan';
import type { BackfillReport, BackfillStatus, ChunkResult } from '../common/results';
import { chunkWorkflow, rootMessage } from './chunk';

const setup = proxyActivities<BackfillActivities>({
  startToCloseTimeout: '5 minutes',
  // Preflight and dry-run inspection only read; retry briefly, and never retry a bad request.
  retry: { maximumAttempts: 3, initialInterval: '2 seconds', nonRetryableErrorTypes: ['InvalidInput'] },
});

export interface BackfillProgress {
  status: 'running' | BackfillStatus;
  total: number;
  chunks: ChunkResult[];
}

export const progressQuery = defineQuery<BackfillProgress>('progress');

export async function backfillWorkflow(input: BackfillInput): Promise<BackfillReport> {
  let request: BackfillRequest;
  try {
    request = validateInput(input);
  } catch (err) {
    // Bad input is final: no retry can fix it, and no work has started.
    if (err instanceof InputError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput', { field: err.field });
    throw err;
  }
  try {
    await setup.preflight(request);
  } catch (err) {
    // Surface the backend's verdict on the request as the workflow's own failure.
    throw ApplicationFailure.nonRetryable(rootMessage(err), 'InvalidInput');
  }

  const plan = planChunks(request.startDate, request.endDate, request.chunkSizeDays);
  const results: ChunkResult[] = plan.map((chunk) => ({ chunk, status: 'pending' }));
  let status: BackfillProgress['status'] = 'running';
  setHandler(progressQuery, () => ({ status, total: plan.length, chunks: results }));

  if (request.dryRun) {
    const dryRun = await setup.inspectLake(request);
    status = 'dry_run';
    return report(request, 'dry_run', results, dryRun);
  }

  let running = 0;
  const all: Promise<void>[] = [];
  for (const chunk of plan) {
    await condition(() => running < request.maxConcurrentChunks);
    running += 1;
    results[chunk.index] = { chunk, status: 'running' };
    all.push(
      executeChild(chunkWorkflow, {
        args: [{ request, chunk }],
        workflowId: `${workflowInfo().workflowId}/chunk-${chunk.id}`,
      })
        .then((done) => {
          results[chunk.index] = done;
        })
        .catch((err) => {
          results[chunk.index] = failedChunk(results[chunk.index], err);
        })
        .finally(() => {
          running -= 1;
        }),
    );
  }
  await Promise.all(all);
  const failed = results.filter((r) => r.status !== 'succeeded').length;
  status = failed === 0 ? 'succeeded' : failed === results.length ? 'failed' : 'partially_failed';
  return report(request, status, results);
}

function failedChunk(current: ChunkResult, err: unknown): ChunkResult {
  // The chunk workflow attaches what it got done; fall back to the error alone.
  const details = err instanceof ChildWorkflowFailure && err.cause instanceof ApplicationFailure ? err.cause.details?.[0] : undefined;
  if (details && typeof details === 'object') return details as ChunkResult;
  return { chunk: current.chunk, status: 'failed', error: { step: 'chunk', message: rootMessage(err) } };
}

function report(request: BackfillRequest, status: BackfillStatus, chunks: ChunkResult[], dryRun?: BackfillReport['dryRun']): BackfillReport {
  const sum = (f: (c: ChunkResult) => number) => chunks.reduce((s, c) => s + f(c), 0);
  return {
    workflowId: workflowInfo().workflowId,
    status,
    featureGroup: request.featureGroup,
    featureVersion: request.featureVersion,
    startDate: request.startDate,
    endDate: request.endDate,
    chunks,
    totals: {
      chunks: chunks.length,
      succeeded: chunks.filter((c) => c.status === 'succeeded').length,
      failed: chunks.filter((c) => c.status === 'failed').length,
      rowsWritten: sum((c) => c.spark?.manifest.output_rows ?? 0),
      recordsIngested: sum((c) => c.ingest?.recordsWritten ?? 0),
      failedRecords: sum((c) => c.ingest?.failedRecords.length ?? 0),
    },
    dryRun,
  };
}
