/**
 * Self-healing chunks, first part: a chunk of several days whose Spark job failed for a reason in
 * its data (a bronze file the job cannot read) is run again one day at a time, as child chunk
 * workflows of one day, so the good days publish and the bad days are named with their errors.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  executeChild,
  isCancellation,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { ChunkResult, DayOutcome } from '../../common/results';
import { addDays } from '../../common/dates';
import { rootMessage } from '../../common/errors';
import { FAILURE } from '../../common/failures';
import type { ChunkWorkflow } from './input';
import { startedPriority } from '../priority';
import { chunkStaticDetails, chunkStaticSummary } from '../ui';

/**
 * Failures of the Spark step that are about the data of some day, not capacity or the platform:
 * another day of the same chunk may well be fine. (Capacity and transient faults are retried by
 * the activity's retry policy instead; splitting would only multiply job runs.)
 */
export const DATA_FAILURES: readonly string[] = [FAILURE.badBronzeInput];

/** Whether the Spark activity's failure is one that splitting the chunk can work around. */
export function isDataFailure(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && DATA_FAILURES.includes(cause.type ?? '');
}

/** The chunk's days as one-day chunks (same plan index: they stand for the same chunk). */
export function oneDayChunks(chunk: ChunkSpec): ChunkSpec[] {
  return Array.from({ length: chunk.days }, (_, i) => {
    const dt = addDays(chunk.startDate, i);
    return { index: chunk.index, id: `${dt}_${dt}`, startDate: dt, endDate: dt, days: 1 };
  });
}

export interface BisectInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  runId?: string;
  /** The data failure that made the whole chunk fail. */
  failure: unknown;
}

/**
 * Runs each day of the chunk as its own child chunk workflow, one after the other (the backfill's
 * concurrency limit counts this chunk once). Returns the chunk's result: succeeded when every day
 * did; otherwise throws the chunk failure naming the bad days, with the result as details.
 */
export async function bisectChunk({ request, chunk, runId, failure }: BisectInput): Promise<ChunkResult> {
  const days: DayOutcome[] = [];
  for (const day of oneDayChunks(chunk)) {
    days.push(await runDay(request, day, runId));
  }
  const bad = days.filter((d) => d.status !== 'succeeded');
  const result: ChunkResult = {
    chunk,
    status: bad.length ? 'failed' : 'succeeded',
    bisect: { cause: rootMessage(failure), days },
  };
  if (!bad.length) return result;
  const good = days.length - bad.length;
  const named = bad.map((d) => `${d.dt} (${d.error?.message ?? d.status})`).join('; ');
  result.error = {
    step: 'spark',
    message: `split into days after a data failure: ${good} of ${days.length} day(s) published, bad: ${bad.map((d) => d.dt).join(', ')}`,
  };
  throw ApplicationFailure.nonRetryable(
    `chunk ${chunk.id} failed: ${result.error.message}: ${named}`,
    FAILURE.chunkFailed,
    result,
  );
}

/** One day as a child chunk workflow; its failure becomes the day's outcome. */
async function runDay(request: BackfillRequest, day: ChunkSpec, runId: string | undefined): Promise<DayOutcome> {
  let result: ChunkResult;
  try {
    result = await executeChild<ChunkWorkflow>('chunkWorkflow', {
      args: [{ request, chunk: day, runId }],
      workflowId: `${workflowInfo().workflowId}/day-${day.startDate}`,
      staticSummary: chunkStaticSummary(day),
      staticDetails: chunkStaticDetails(request, day),
      priority: startedPriority(),
    });
  } catch (err) {
    // A cancelled chunk stops here: the remaining days are not started.
    if (isCancellation(err) || (err instanceof ChildWorkflowFailure && isCancellation(err.cause))) throw err;
    const details =
      err instanceof ChildWorkflowFailure && err.cause instanceof ApplicationFailure
        ? err.cause.details?.[0]
        : undefined;
    result =
      details && typeof details === 'object'
        ? (details as ChunkResult)
        : { chunk: day, status: 'failed', error: { step: 'chunk', message: rootMessage(err) } };
  }
  return {
    dt: day.startDate,
    status: result.status,
    rows: result.spark?.manifest.output_rows_per_dt[day.startDate],
    recordsWritten: result.ingest?.recordsWritten,
    jobRunId: result.spark?.jobRunId,
    error: result.error,
  };
}
