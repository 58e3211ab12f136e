/**
 * How operators and the CLI talk to a running backfill: progress query, pause/resume signals,
 * concurrency and retry-failed updates, and the search attributes it keeps current.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BackfillStatus, BackfillTotals, ChunkSummary } from '../common/results';
import type { ChunkPage, ChunkPageRequest } from '../common/chunk-book';

/** 'waiting': for an overlapping backfill of the same group and version to end (waitForOverlap). */
export type BackfillPhase = 'running' | 'paused' | 'waiting' | 'cancelling' | BackfillStatus;

export interface BackfillProgress {
  workflowId: string;
  status: BackfillPhase;
  paused: boolean;
  maxConcurrentChunks: number;
  totals: BackfillTotals & { running: number; pending: number };
  /** One page of chunks, as asked (`page`); succeeded chunks of a large backfill carry only their state and attempts. */
  chunks: ChunkSummary[];
  /** Which page `chunks` is. Absent in answers of workers from before paging. */
  page?: ChunkPage;
  /** Every chunk's state, plan order, run-length encoded (`s*300,r*8,p*6997`). */
  states?: string;
  /** Workflow time (ms) the backfill started, and how many runs (continue-as-new) it has had. */
  startedAt: number;
  runs: number;
  /** While waiting: the backfills in the way and the days they share with this one. */
  waitingFor?: string;
}

/** Progress, with one page of chunks (default: the first 50 of all); bounded whatever the range. */
export const progressQuery = defineQuery<BackfillProgress, [ChunkPageRequest?]>('progress');
/** No new chunk starts while paused; chunks already running finish. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Sets maxConcurrentChunks; returns the value now in force. */
export const setMaxConcurrentChunksUpdate = defineUpdate<number, [number]>('setMaxConcurrentChunks');
/** Queues the failed (and cancelled) chunks again; returns their ids. */
export const retryFailedUpdate = defineUpdate<string[], []>('retryFailed');

export { SEARCH_ATTRIBUTES } from '../common/search-attributes';

export { MAX_CONCURRENT_CHUNKS_LIMIT } from '../common/input';
