/**
 * The seams between activities and the outside world. Each backend (local, AWS) implements
 * these; createActivities() takes them by injection, so the workflow never changes when the
 * backend does and tests hand in emulator-backed ones.
 */
import type { BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';
import type { CatalogResult } from '../common/results';
import type { MemoryLadder } from '../common/memory-ladder';
import type { PublicationFacts, TargetStoresChoice } from '../common/publication-plan';
import type { SearchAttributeLister } from './backfill/search-attributes';

/** A file in the lake, addressed by URI (file:///... or s3://...). */
export interface LakeObject {
  uri: string;
  size: number;
  /** Last modification, ms since the epoch (as Hadoop's FileStatus gives it), when the lake knows it. */
  mtime?: number;
  /** S3 ETag without quotes; undefined on a local disk. */
  etag?: string;
}

/**
 * The condition of a conditional write (docs/design.md, "Conditional ledger writes"): create only if absent, or replace only if the
 * object is still the version read (its etag).
 */
export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string };

/** What a conditional write found instead of what it expected: another writer got there first. */
export class LedgerConflictError extends Error {
  constructor(
    readonly uri: string,
    /** The etag the writer read, or `absent`. */
    readonly expected: string,
    /** The etag found, `absent`, or why the record could not be taken (`locked by pid P on H`). */
    readonly found: string,
  ) {
    super(`ledger record ${uri} changed under this writer: expected ${expected}, found ${found}`);
    this.name = 'LedgerConflict';
  }
}

export interface Lake {
  readText(uri: string): Promise<string | undefined>;
  /** Written whole or not at all. */
  writeText(uri: string, text: string): Promise<void>;
  /**
   * The text and its etag (S3's ETag without quotes; locally the md5 hex of the bytes); undefined
   * when absent. The etag is what writeTextIf compares.
   */
  readTextWithEtag(uri: string): Promise<{ text: string; etag: string } | undefined>;
  /**
   * Writes whole, only if `condition` holds at the moment of the write; returns the new etag.
   * Throws LedgerConflictError when it does not (nothing is written then).
   */
  writeTextIf(uri: string, text: string, condition: WriteCondition): Promise<string>;
  /** Files under a prefix, recursively, sorted by URI; hidden files (_ or .) are left out. */
  list(prefixUri: string): Promise<LakeObject[]>;
  readParquet(uri: string): Promise<Record<string, unknown>[]>;
  /** Deletes these files (missing ones are fine), and on a local disk the directories they leave empty. */
  delete(uris: string[]): Promise<void>;
  /** The first `bytes` bytes of a file (fewer when it is shorter), for cheap format checks; undefined when it does not exist. */
  readHead(uri: string, bytes: number): Promise<Buffer | undefined>;
}

export interface SparkJobSpec {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** Arguments of spark_jobs/backfill_features.py. */
  args: string[];
  /** A stable name for the run, unique per backfill and chunk (idempotency token on EMR). */
  runName: string;
}

/** Where a started job run can be found again, kept in heartbeat details. */
export interface JobHandle {
  backend: string;
  id: string;
  logLocation?: string;
}

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobStatus {
  state: JobState;
  detail?: string;
}

/** What SparkRunner.activeRuns looks for. */
export interface ActiveRunQuery {
  /** The backfill's workflow id; its runs are named `<holder>/chunk-<chunk id>` (the chunk workflow ids). */
  holder: string;
  /** Where the holder's runs went (EMR Serverless: the application id); unset: the runner's own place. */
  application?: string;
}

/** A run that may still write. */
export interface ActiveRun {
  /** The backend's id of the run (EMR: the job run id; local: the pid). */
  id: string;
  /** Names the run for a person, e.g. `EMR job run 00fabc (RUNNING)`. */
  description: string;
}

/** How SparkRunner.cancel waits for the run to stop. */
export interface CancelWait {
  /** Called on every poll while the run is stopping (the activity heartbeats there). */
  onPoll?(status: JobStatus): void;
}

export interface SparkRunner {
  /**
   * Whether a run goes on without this worker process, so another worker can follow it (EMR: yes).
   * When false (local spark-submit), a worker shutting down stops its runs instead of leaving them.
   */
  readonly runsOutliveWorker: boolean;
  /** Starts the job run, or finds the one already started for the same spec. */
  submit(spec: SparkJobSpec): Promise<JobHandle>;
  /**
   * Picks up a run started by an earlier attempt (from heartbeat details). Returns undefined when
   * that run cannot be followed from here, after making sure it can no longer write. With `spec`,
   * only a run of that spec is followed: heartbeat details can be written by anyone with namespace
   * access, so a handle naming another backfill's run is not followed (nor cancelled).
   */
  reattach(previous: JobHandle, spec?: SparkJobSpec): Promise<JobHandle | undefined>;
  status(handle: JobHandle): Promise<JobStatus>;
  /**
   * Stops the run and waits (within a bound of the runner's) until it can no longer write.
   * Returns the state it ended in: cancelled, or succeeded/failed when it ended first; still
   * running only when the bound ran out (the detail says so).
   */
  cancel(handle: JobHandle, wait?: CancelWait): Promise<JobStatus>;
  /**
   * The runs of a backfill that have not ended, whatever became of its workflow (a terminated
   * backfill's EMR run goes on). The overlap lease keeps an ended holder's days while any is left.
   * A runner that cannot tell must answer with a run that says so, never with none.
   */
  activeRuns(query: ActiveRunQuery): Promise<ActiveRun[]>;
}

export interface Catalog {
  /**
   * Whether the catalog takes every directory under the gold table for data (a crawler does): it
   * would serve a rollback copy kept there as a second run of the day, so none is kept under it.
   * @default false (partitions point at one run's directory)
   */
  readonly readsEveryDirectory?: boolean;
  /** Makes the chunk's gold partitions visible to readers (Glue crawler or the local catalog). */
  refresh(request: BackfillRequest, chunk: ChunkSpec, goldTableUri: string): Promise<CatalogResult>;
}

/** One feature value, as SageMaker Feature Store takes it. */
export interface FeatureValue {
  FeatureName: string;
  ValueAsString: string;
}

export interface RecordEntry {
  FeatureGroupName: string;
  Record: FeatureValue[];
}

export interface BatchWriteOutcome {
  /** Entries that failed for good, by index in the batch. */
  errors: { index: number; code: string; message: string }[];
  /** Entries the store did not process this time, or that failed in a way a resend survives (throttled, a server fault), by index: send them again. */
  unprocessed: number[];
}

/** Thrown by a FeatureStore when a call was throttled as a whole. */
export class ThrottledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThrottledError';
  }
}

/**
 * Thrown by a FeatureStore when a call failed in a way the same call may well survive later (a
 * server fault, a dropped connection). `cause` is the store's own error.
 */
export class TransientStoreError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'TransientStoreError';
  }
}

export interface FeatureStore {
  /**
   * Writes 1 to 25 entries, with BatchWriteRecord semantics, to the given stores.
   * @default targets 'both' (the online and the offline store)
   */
  batchWrite(entries: RecordEntry[], targets?: TargetStoresChoice): Promise<BatchWriteOutcome>;
}

/** How one backfill ended, for alarms that watch a success metric (the old pipeline's BackfillPipelineSuccess). */
export interface BackfillOutcome {
  workflowId: string;
  featureGroup: string;
  featureVersion: string;
  /** The report's status, or `failed` for a backfill that failed without a report (a refused overlap, an outage). */
  status: string;
  /** 1 when every chunk succeeded, else 0. */
  success: 0 | 1;
}

export interface OutcomeRecorder {
  /** Records one backfill's end where alarms read it (on AWS: a CloudWatch metric). */
  record(outcome: BackfillOutcome): Promise<void>;
}

/** How ingestion paces and retries its calls to the feature store (defaults: DEFAULT_INGEST_OPTIONS in ingest/chunk.ts). */
export interface IngestOptions {
  batchSize: number;
  /** Ceiling of the adaptive number of calls in flight. */
  maxInFlight: number;
  /** Tries of one batch for failed calls (server errors, network) before the attempt gives up. */
  maxBatchTries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Beyond this many permanently failed records the data is wrong, not the store: stop. */
  maxFailedRecords: number;
  /** Calls in flight at the start, before the store has said anything. */
  initialInFlight?: number;
  /**
   * Throttled tries of one batch before the attempt gives up. Throttling is the store pacing us,
   * not a fault, so it gets a far larger budget than errors.
   */
  maxThrottledTries?: number;
}

/** The sizing tiers of a chunk's Spark run, by the bronze bytes it reads (spark/sizing.ts picks one). */
export type SizeTier = 'small' | 'medium' | 'large';

/** Spark settings per tier: each backend brings its own (aws/spark-sizes.ts, local/spark-submit.ts). */
export type SizingTable = Record<SizeTier, Record<string, string>>;

export interface Backends {
  name: string;
  lake: Lake;
  spark: SparkRunner;
  catalog: Catalog;
  /** The feature store a request publishes to (the local one lives in the request's lake). */
  featureStoreFor(request: BackfillRequest): FeatureStore;
  /**
   * Backend-specific checks of a request (e.g. EMR settings on AWS); throw InvalidInput failures.
   * May fix what the backfill then keeps, e.g. the deployed job code's key.
   */
  preflight?(request: BackfillRequest): Promise<PreflightResult | void>;
  /** Where a backfill's end is recorded for alarms; unset (local): nowhere. */
  outcome?: OutcomeRecorder;
  /** Label of the deployed job code, recorded in manifests. */
  codeRevision?: string;
  /** How often a running Spark job is polled. */
  pollIntervalMs?: number;
  ingestOptions?: Partial<IngestOptions>;
  /** Spark settings by sizing tier (spark/sizing.ts), picked per chunk from its bronze bytes; unset: the runner's own defaults. */
  sparkSizes?: SizingTable;
  /** Which Spark memory setting a run out of memory raises, and its rungs (capped); unset: no escalation. */
  memoryLadder?: MemoryLadder;
  /**
   * Lists the namespace's search attributes (src/worker.ts passes its connection's); preflight then
   * refuses a namespace without ours. Unset: not checked (tests that run no workflow).
   */
  searchAttributes?: SearchAttributeLister;
}

/** What a backend's preflight fixes for the whole backfill. */
export interface PreflightResult {
  /** Key prefix of the job code in the code bucket (AWS), resolved once so chunks keep it. */
  jobCodeKey?: string;
  /** What the publication plan needs from the backend: the online TTL, whether the job can publish. */
  publication?: PublicationFacts;
}
