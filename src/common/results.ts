/** What activities return and the workflow reports. Plain JSON: it travels through Temporal. */
import type { PublicationPlan, Publisher, TargetStoresChoice } from './publication-plan';
import type { BadBronzeFile } from './bad-input';
import type { ChunkSpec } from './plan';
import type { TaskPriority } from './task-priority';

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
  /** Set with acceptDefinitionChange: the fingerprint built, and rebuilt days with the one they had. */
  accepted_definition_change?: { fingerprint: string; replaced: Record<string, string> };
}

export interface SparkJobResult {
  manifest: ChunkManifest;
  /** Backend's id of the run (EMR job run id, or the local process id). */
  jobRunId: string;
  logLocation?: string;
  /** The settings the successful run had, how they were chosen, and the memory it needed. Absent when no job ran. */
  sparkSettings?: SparkSettings;
}

/** The Spark settings of a chunk's run (src/activities/spark/sizing.ts, spark/memory-ladder.ts). */
export interface SparkSettings {
  /** Sizing tier picked from the bronze bytes the chunk reads (small, medium, large). */
  tier?: string;
  bronzeBytes?: number;
  /** Settings over the runner's defaults: the tier's, then the request's sparkConf, then the memory ladder's. */
  conf: Record<string, string>;
  /** Runs that ran out of memory before the one that succeeded, each a rung lower. */
  escalations?: { key: string; from: string; to: string; signature: string }[];
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
  /** Days whose gold was sent (or resumed) by this step. */
  ingestedDates: string[];
  /** Days whose current gold the ledger says is already in the store: not sent again. */
  alreadyIngestedDates: string[];
  /** Days with gold written without a ledger (e.g. the pipeline we replace): treated as published. */
  foreignDates?: string[];
  recordsRead: number;
  /** Records of the ingested days the store has taken, over every attempt (from the ledger). */
  recordsWritten: number;
  /** Records the store refused for good; all of them are in the dead-letter files. */
  failedRecords: number;
  /** A few of them, as examples. */
  failedSample?: FailedRecord[];
  deadLetterLocations?: string[];
  /** Records that may have reached the store twice because an attempt died mid-batch. */
  possibleDuplicates?: number;
  batches: number;
  retries: number;
  throttled: number;
  /** True when this run resumed an earlier attempt's publication. */
  resumed: boolean;
  /** Calls in flight the adaptive limit allowed: at the end, and its lowest and highest during the run. */
  inFlightLimit?: { final: number; low: number; high: number };
}

/** Failed records of a result, whichever shape it has (a list before the ledger, a count since). */
export function failedCount(ingest: { failedRecords: number | unknown[] } | undefined): number | undefined {
  if (!ingest) return undefined;
  return typeof ingest.failedRecords === 'number' ? ingest.failedRecords : ingest.failedRecords.length;
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
  /** Set when the chunk was split into days after a data failure (src/workflows/chunk/bisect.ts). */
  bisect?: { cause: string; days: DayOutcome[] };
}

/** One day of a chunk split after a data failure, run as its own one-day chunk. */
export interface DayOutcome {
  dt: string;
  status: ChunkStatus;
  rows?: number;
  recordsWritten?: number;
  jobRunId?: string;
  error?: { step: string; message: string };
}

export interface DryRunPlan {
  chunks: ChunkSpec[];
  bronzePresent: Record<string, number>;
  bronzeMissing: string[];
  goldExisting: string[];
  wouldSkip: string[];
  wouldOverwrite: string[];
  /** Per day, what the real run would do: the same ledger rules decide both. */
  days?: DryRunDay[];
  /** Days with gold written without a ledger: not sent (listed so `--republish` can be considered). */
  foreign?: string[];
  /** Bronze files that are empty or whose first bytes do not match their name. */
  badBronzeFiles?: BadBronzeFile[];
  /** Per chunk, the Spark settings its run would start with: tier from the bronze bytes, then sparkConf. */
  sizing?: (SparkSettings & { chunkId: string })[];
  /** Where each day's records go and through which path, with estimated times (issue 13). */
  publication?: DryRunPublication;
  /** The Temporal task priority the real run's activities and chunks would carry. */
  taskPriority?: TaskPriority;
}

/** The dry run's publication part (src/activities/backfill/publication-estimate.ts). */
export interface DryRunPublication {
  plan?: PublicationPlan;
  /** Days by target stores. */
  stores: Record<TargetStoresChoice, string[]>;
  /** Days, (estimated) records and seconds of each path. */
  spark: { days: string[]; records: number; seconds: number };
  api: { days: string[]; records: number; seconds: number };
  assumptions: { apiRecordsPerSecond: number; sparkRecordsPerSecond: number; bronzeBytesPerRecord: number };
}

export interface DryRunDay {
  dt: string;
  /** compute: Spark writes new gold; keep: the current gold stays. */
  gold: 'compute' | 'keep';
  /** Why: no_gold, overwrite, this_run (committed by the run being resumed), existing, foreign. */
  reason: string;
  /** What ingestion would do after: send, resume, published, foreign, empty. */
  publish: string;
  /** The stores the day's records go to, and what writes them. */
  stores?: TargetStoresChoice;
  publishWith?: Publisher;
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
  /** Records that may have been written twice (an attempt died mid-batch); see docs/guide.md. */
  possibleDuplicates?: number;
  /** Days with gold from outside the ledger, treated as published and not sent. */
  foreignDates?: string[];
  deadLetterLocation?: string;
  validationOk?: boolean;
  validationProblems?: string[];
  jobRunId?: string;
  error?: { step: string; message: string };
  /** acceptDefinitionChange: fingerprint built, and days rebuilt over gold of another one (with that one). */
  definitionChange?: { fingerprint: string; replaced: Record<string, string> };
  /** How Spark was sized for the chunk, and the memory it needed when it ran out at first. */
  spark?: Omit<SparkSettings, 'conf'>;
  /** Split into days after a data failure: the days that failed, each with its error (the others published). */
  badDays?: { dt: string; message: string }[];
}

export function summarizeChunk(
  result: ChunkResult,
  base: Pick<ChunkSummary, 'startedAt' | 'finishedAt' | 'attempts'>,
): ChunkSummary {
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
    failedRecords: failedCount(result.ingest),
    deadLetterLocation: result.ingest?.deadLetterLocations?.join(', '),
    possibleDuplicates: result.ingest?.possibleDuplicates,
    foreignDates: result.ingest?.foreignDates,
    validationOk: result.validation?.ok,
    validationProblems: result.validation?.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    jobRunId: result.spark?.jobRunId,
    error: result.error,
    definitionChange: m?.accepted_definition_change,
    spark: sparkSummary(result.spark?.sparkSettings),
    ...bisectSummary(result),
  };
}

function sparkSummary(s: SparkSettings | undefined): ChunkSummary['spark'] {
  if (!s || (s.tier === undefined && !s.escalations?.length)) return undefined;
  return { tier: s.tier, bronzeBytes: s.bronzeBytes, escalations: s.escalations?.length ? s.escalations : undefined };
}

/** A split chunk's rows and records come from its days; its bad days are named. */
function bisectSummary(result: ChunkResult): Partial<ChunkSummary> {
  if (!result.bisect) return {};
  const days = result.bisect.days;
  const good = days.filter((d) => d.status === 'succeeded');
  const rowsPerDt = Object.fromEntries(good.map((d) => [d.dt, d.rows ?? 0]));
  return {
    rowsPerDt,
    rows: good.reduce((s, d) => s + (d.rows ?? 0), 0),
    recordsWritten: good.reduce((s, d) => s + (d.recordsWritten ?? 0), 0),
    badDays: days
      .filter((d) => d.status !== 'succeeded')
      .map((d) => ({ dt: d.dt, message: d.error?.message ?? d.status })),
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
  possibleDuplicates: number;
}

/** Days, the first few listed (chunk-book.ts: DAYS_LISTED_LIMIT) and the rest counted. */
export interface DayList {
  days: string[];
  more: number;
}

/** Sums over chunks whose summaries were folded (succeeded chunks of a large backfill). */
export interface ChunkRollup {
  rowsWritten: number;
  recordsIngested: number;
  failedRecords: number;
  possibleDuplicates: number;
  quarantinedRows: number;
  duplicatesRemoved: number;
  validationPassed: number;
  validationFailed: number;
  skippedPartitions: DayList;
  coverageGaps: DayList;
  foreignDates: DayList;
}

export interface BackfillReport {
  workflowId: string;
  /** Id of this backfill's run in the ledger (gold locations, commits); retry-failed resumes it. */
  runId?: string;
  status: BackfillStatus;
  featureGroup: string;
  featureVersion: string;
  startDate: string;
  endDate: string;
  /**
   * Chunk summaries: every chunk of a backfill of at most 200 chunks; of a larger one only the
   * failed and cancelled chunks (at most 100, `chunksNotListed` counts the rest). Each chunk's full
   * result is its chunk workflow's result.
   */
  chunks: ChunkSummary[];
  /** Failed and cancelled chunks not in `chunks` (a large backfill lists at most 100). */
  chunksNotListed?: number;
  /** Every chunk's state, plan order, run-length encoded (`s*7300,f*5`; chunk-book.ts). Absent in reports before it. */
  states?: string;
  /** Sums over every chunk (rows, records, quarantined lines, skipped days...). Absent in reports before it. */
  rollup?: ChunkRollup;
  totals: BackfillTotals;
  /** Workflow time (ms) the backfill started and ended, across continue-as-new. */
  startedAt: number;
  finishedAt: number;
  dryRun?: DryRunPlan;
}
