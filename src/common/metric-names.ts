/** Names of the backfill's own metrics (src/workflows/metrics.ts records them; docs/operations.md lists them). */
export const METRICS = {
  backfillsFinished: 'backfill_backfills_finished',
  chunksFinished: 'backfill_chunks_finished',
  rowsWritten: 'backfill_rows_written',
  recordsIngested: 'backfill_records_ingested',
  recordsDeadLettered: 'backfill_records_dead_lettered',
  throttled: 'backfill_feature_store_throttled',
  retries: 'backfill_feature_store_retries',
  stepDuration: 'backfill_chunk_step_duration_seconds',
} as const;
