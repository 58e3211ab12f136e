/** What a chunk workflow is started with and returns, and the changes of its code older histories must not see. */
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { ChunkResult } from '../../common/results';

/**
 * Changes of workflow code that running histories must not see, each guarded with patched().
 * Remove a patch only once no history that predates it can still be running or replayed.
 */
export const PATCHES = {
  /** 2026-11: catalog refresh and ingestion run side by side instead of one after the other. */
  parallelCatalogAndIngest: 'parallel-catalog-and-ingest',
  /** 2026-11: the backfill upserts no search attribute before preflight has checked the namespace has them. */
  noUpsertBeforePreflight: 'no-upsert-before-preflight',
  /** 2026-11: a chunk of several days whose Spark job failed on its data is run again day by day (bisect.ts). */
  bisectDataFailures: 'bisect-data-failures',
  /** 2026-12: the chunk checks its input (request, chunk, run id) before any activity (issue 21). */
  validateChunkInput: 'validate-chunk-input',
  /** 2026-12: a chunk cancelled once its Spark step started refreshes the catalog before it ends (issue 20). */
  catalogOnCancel: 'catalog-on-cancel',
} as const;

export interface ChunkWorkflowInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** The backfill run (ledger id) whose gold this chunk writes; see RunSparkJobInput.runId. */
  runId?: string;
}

/** The chunk workflow's type, for starting it by name (bisect.ts) without importing its code. */
export type ChunkWorkflow = (input: ChunkWorkflowInput) => Promise<ChunkResult>;
