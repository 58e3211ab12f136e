/** What activities return and the workflow reports. Plain JSON: it travels through Temporal. */
import type { ChunkSpec } from './plan';

/** The manifest the Spark job writes per chunk (field names as the job writes them). */
export interface ChunkManifest {
  feature_group: string;
  feature_version: string;
  feature_definition: { fingerprint: string; description: string };
  code_revision: string;
  start_date: string;
  end_date: string;
  overwrite: boolean;
  bronze_partitions_read: string[];
  coverage_gaps: string[];
  missing_context_partitions: string[];
  skipped_partitions: string[];
  overwritten_partitions: string[];
  written_partitions: string[];
  input_rows: number;
  quarantined_rows: number;
  quarantined_rows_per_dt: Record<string, number>;
  duplicates_removed: number;
  output_rows_per_dt: Record<string, number>;
  output_rows: number;
  duplicate_event_ids_in_output: number;
  min_event_time: number | null;
  max_event_time: number | null;
  gold_table: string;
  duration_seconds: number;
  spark_version: string;
}

export interface SparkJobResult {
  manifest: ChunkManifest;
  /** Backend's id of the run (EMR job run id, or the local process id). */
  jobRunId: string;
  logLocation?: string;
}

export interface CatalogResult {
  backend: string;
  /** Gold partitions the catalog knows for this chunk's days after the refresh. */
  partitions: string[];
  status: string;
}

export interface FailedRecord {
  recordId: string;
  eventId: string;
  dt: string;
  code: string;
  message: string;
}

export interface IngestResult {
  featureGroup: string;
  /** Days whose gold rows were sent in this run. */
  ingestedDates: string[];
  /** Days already ingested from the same gold files: not sent again (the offline store is append-only). */
  alreadyIngestedDates: string[];
  recordsRead: number;
  recordsWritten: number;
  failedRecords: FailedRecord[];
  deadLetterLocation?: string;
  batches: number;
  retries: number;
  throttled: number;
  /** True when this run resumed from a checkpoint of an earlier attempt. */
  resumed: boolean;
  /** Calls in flight the adaptive limit allowed: at the end, and its lowest and highest during the run. */
  inFlightLimit?: { final: number; low: number; high: number };
}

export interface ValidationCheck {
  name: string;
  ok: boolean;
  severity: 'error' | 'warning';
  detail: string;
}

export interface ValidationResult {
  ok: boolean;
  checks: ValidationCheck[];
  goldRowsPerDt: Record<string, number>;
}

export type ChunkStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface ChunkResult {
  chunk: ChunkSpec;
  status: ChunkStatus;
  spark?: SparkJobResult;
  catalog?: CatalogResult;
  ingest?: IngestResult;
  validation?: ValidationResult;
  /** Which step failed and why, when status is failed. */
  error?: { step: string; message: string };
}

export interface DryRunPlan {
  chunks: ChunkSpec[];
  bronzePresent: Record<string, number>;
  bronzeMissing: string[];
  goldExisting: string[];
  wouldSkip: string[];
  wouldOverwrite: string[];
}

export type BackfillStatus = 'succeeded' | 'partially_failed' | 'failed' | 'cancelled' | 'dry_run';

/**
 * What the backfill keeps of a chunk: small enough that thousands fit in one payload. The full
 * ChunkResult is the chunk workflow's own result, one click away in the Web UI.
 */
export interface ChunkSummary {
  chunk: ChunkSpec;
  status: ChunkStatus;
  /** Workflow time (ms since epoch) the chunk started and ended. */
  startedAt?: number;
  finishedAt?: number;
  attempts: number;
  rowsPerDt?: Record<string, number>;
  rows?: number;
  skippedPartitions?: string[];
  coverageGaps?: string[];
  quarantinedRows?: number;
  duplicatesRemoved?: number;
  recordsWritten?: number;
  failedRecords?: number;
  deadLetterLocation?: string;
  validationOk?: boolean;
  validationProblems?: string[];
  jobRunId?: string;
  error?: { step: string; message: string };
}

export function summarizeChunk(result: ChunkResult, base: Pick<ChunkSummary, 'startedAt' | 'finishedAt' | 'attempts'>): ChunkSummary {
  const m = result.spark?.manifest;
  return {
    chunk: result.chunk,
    status: result.status,
    startedAt: base.startedAt,
    finishedAt: base.finishedAt,
    attempts: base.attempts,
    rowsPerDt: m?.output_rows_per_dt,
    rows: m?.output_rows,
    skippedPartitions: m?.skipped_partitions,
    coverageGaps: m?.coverage_gaps,
    quarantinedRows: m?.quarantined_rows,
    duplicatesRemoved: m?.duplicates_removed,
    recordsWritten: result.ingest?.recordsWritten,
    failedRecords: result.ingest?.failedRecords.length,
    deadLetterLocation: result.ingest?.deadLetterLocation,
    validationOk: result.validation?.ok,
    validationProblems: result.validation?.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    jobRunId: result.spark?.jobRunId,
    error: result.error,
  };
}

export interface BackfillTotals {
  chunks: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  rowsWritten: number;
  recordsIngested: number;
  failedRecords: number;
}

export function totalsOf(chunks: ChunkSummary[]): BackfillTotals {
  const sum = (f: (c: ChunkSummary) => number | undefined) => chunks.reduce((s, c) => s + (f(c) ?? 0), 0);
  return {
    chunks: chunks.length,
    succeeded: chunks.filter((c) => c.status === 'succeeded').length,
    failed: chunks.filter((c) => c.status === 'failed').length,
    cancelled: chunks.filter((c) => c.status === 'cancelled').length,
    rowsWritten: sum((c) => c.rows),
    recordsIngested: sum((c) => c.recordsWritten),
    failedRecords: sum((c) => c.failedRecords),
  };
}

export interface BackfillReport {
  workflowId: string;
  status: BackfillStatus;
  featureGroup: string;
  featureVersion: string;
  startDate: string;
  endDate: string;
  chunks: ChunkSummary[];
  totals: BackfillTotals;
  /** Workflow time (ms) the backfill started and ended, across continue-as-new. */
  startedAt: number;
  finishedAt: number;
  dryRun?: DryRunPlan;
}
