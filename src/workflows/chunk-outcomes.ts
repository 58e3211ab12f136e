/** The backfill's chunk outcomes: its report's chunk part, a failed child's result, a late retry refused. */
import { ApplicationFailure, ChildWorkflowFailure, isCancellation } from '@temporalio/workflow';
import type { ChunkBook } from '../common/chunk-book';
import { encodeStates } from '../common/chunk-book';
import { rootMessage } from '../common/errors';
import type { BackfillReport, ChunkResult, ChunkSummary } from '../common/results';

/**
 * The retryFailed update's validator: once the backfill is past its chunks (releasing its lease,
 * recording its outcome) or cancelling, nothing would run a chunk queued again, so the update is
 * refused rather than answered "queued again" with the chunk left pending in the report.
 */
export function refuseLateRetry(over: boolean, phase: string): void {
  if (!over) return;
  throw new Error(
    `the backfill has finished its chunks and is ending (${phase}): nothing would run a chunk queued now; ` +
      'once it has ended, run retry-failed again: it starts a new run of the failed chunks',
  );
}

/** The report's chunk part: bounded whatever the plan's length. */
export function reportChunks(
  chunks: ChunkBook,
): Pick<BackfillReport, 'chunks' | 'chunksNotListed' | 'states' | 'rollup'> {
  const listed = chunks.listed();
  return {
    chunks: listed.chunks,
    chunksNotListed: listed.notListed || undefined,
    states: encodeStates(chunks.states),
    rollup: chunks.rollupNow(),
  };
}

/** What a failed or cancelled chunk workflow got done, from the details it attached. */
export function chunkResultOf(summary: ChunkSummary, err: unknown): ChunkResult {
  if (err instanceof ChildWorkflowFailure && isCancellation(err.cause)) {
    return {
      chunk: summary.chunk,
      status: 'cancelled',
      error: { step: 'cancelled', message: 'cancelled before it finished' },
    };
  }
  const details =
    err instanceof ChildWorkflowFailure && err.cause instanceof ApplicationFailure ? err.cause.details?.[0] : undefined;
  if (details && typeof details === 'object') return details as ChunkResult;
  return { chunk: summary.chunk, status: 'failed', error: { step: 'chunk', message: rootMessage(err) } };
}
