/** What a backfill workflow is started with, what one run hands the next, and its patches. */
import type { BackfillInput, BackfillRequest } from '../../common/input';
import type { BackfillReport, ChunkSummary } from '../../common/results';
import type { CompactChunks } from '../../common/chunk-book';

/** Changes of this workflow's code that older histories must not see (as PATCHES in chunk/input.ts). */
export const BACKFILL_PATCHES = {
  /** 2026-11: a backfill holds an overlap lease on its days while it runs (issue 10). */
  overlapLease: 'overlap-lease',
  /** 2026-11: a backfill's end is recorded for alarms (BackfillPipelineSuccess on AWS, issue 12). */
  outcomeMetric: 'outcome-metric',
  /** 2026-11: the request carries the publication plan (target stores and publisher per day, issue 13). */
  targetStores: 'target-stores',
} as const;

/** Chunks started per run before continuing as new: ~10 history events each keeps a run far below 10k. */
export const CHUNKS_PER_RUN = 300;

/** What one run hands the next when it continues as new. */
export interface BackfillCarry {
  request: BackfillRequest;
  /** Compact chunk state; the plan is recomputed from the request. */
  book?: CompactChunks;
  /** Carries from before the compact state: every chunk's summary. Read, never written. */
  chunks?: ChunkSummary[];
  paused: boolean;
  maxConcurrentChunks: number;
  startedAt: number;
  runs: number;
  /** The overlap lease is held: it carries over, and the last run releases it. */
  leased?: boolean;
}

/** The backfill workflow's type, for continuing as new without importing its code. */
export type BackfillWorkflow = (input: BackfillInput, carry?: BackfillCarry) => Promise<BackfillReport>;
