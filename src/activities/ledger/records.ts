/**
 * The publication ledger: per (feature version, day) which gold is current, and per (feature group,
 * feature version, day) how much of that gold reached the feature store. It lives in the lake
 * (`_ledger/`), each record one small JSON object replaced whole, so it survives any worker or server
 * and every backend sees the same one. Every decision reads it: what Spark computes, what ingestion
 * sends or resumes, what validation compares, and what a dry run prints (docs/design.md). The paths
 * and the record fields are spark_jobs/card_features/contract.json's, which the job reads too:
 *
 *   _ledger/gold/card_features/feature_version=V/dt=D.json          written by the Spark job
 *   _ledger/publication/<group>/feature_version=V/dt=D.json         written by ingestion
 *   _ledger/publication/<group>/feature_version=V/dead_letter/dt=D/batch=N.jsonl   records the store refused
 */
import type { BackfillRequest } from '../../common/input';
import { ApplicationFailure } from '@temporalio/activity';
import { FAILURE } from '../../common/failures';
import { DEFAULT_LAKE_PREFIXES, GOLD_RUN_PARTITION, lakePath } from '../../common/lake-contract';
import { LedgerConflictError, type Lake } from '../backends';
import { goldPartition, lakeRoot } from '../lake-paths';

/** Written by the Spark job once a day's data files are complete (spark_jobs/card_features/ledger.py; fields: contract.json). */
export interface GoldCommit {
  dt: string;
  feature_version: string;
  /** The backfill run that wrote it; `foreign` for gold adopted from outside (`--republish`). */
  run_id: string;
  /** Directory readers use; null when the day has no rows. */
  location: string | null;
  files: string[];
  rows: number;
  code_revision: string;
  fingerprint: string;
  committed_at: string;
  previous_location?: string | null;
  /** Definition-only hash; `fingerprint` also covers the transform code. Absent in commits from before that. */
  definition_fingerprint?: string;
  /** What the day was built from (spark_jobs/card_features/ledger.py day_bronze_inputs); absent in older commits. */
  lineage?: GoldLineage;
}

/** A bronze file as the job listed it (Hadoop FileStatus): size, modification time (ms), ETag on S3A. */
export interface LineageFile {
  path: string;
  size: number;
  mtime?: number | null;
  etag?: string | null;
}

export interface GoldLineage {
  code_revision: string;
  fingerprint: string;
  /** EMR Serverless job run id; null elsewhere. */
  job_run_id?: string | null;
  spark_version?: string;
  spark_conf?: Record<string, string>;
  /** Every arrival partition the day's windows read (present or not), and the data files found. */
  bronze: { partitions: string[]; files: LineageFile[] };
}

/** How far a day's current gold got into one feature group (common fields: contract.json records.publication). */
export interface Publication {
  dt: string;
  feature_group: string;
  feature_version: string;
  /** The backfill run that sent it (its report counts these records as its own). */
  published_by?: string;
  /** The gold this record is about: the commit's run id and files. */
  gold_run_id: string;
  gold_files: string[];
  records: number;
  batch_size: number;
  /** Every batch below this number is acknowledged by the store. */
  acked_prefix: number;
  /** Acknowledged batches above the prefix (batches finish out of order). */
  acked_ahead: number[];
  records_written: number;
  records_failed: number;
  dead_letter?: string;
  status: 'in_progress' | 'done';
  /**
   * An attempt was sending when this was written. Found true by the next attempt, it means that
   * attempt died mid-batch: the batches it had in flight may reach the store twice.
   */
  sending: boolean;
  /** Records that may have been written twice (at most the batches in flight at each crash). */
  possible_duplicates: number;
  attempts: number;
  updated_at: string;
  /** Order the API loop numbers batches in: `interleaved` by record id (ingest/send.ts); absent: the gold's order. */
  record_order?: 'interleaved';
  /** Who wrote it: the worker's API loop (absent in older records) or the Spark job (offline_publish.py). */
  published_with?: 'api' | 'spark';
  /** The stores written: OnlineStore, OfflineStore (absent in older records: both). */
  target_stores?: string[];
  /** Spark publications: the offline store files written, and the run that wrote them. */
  offline_files?: string[];
  spark_run_id?: string;
}

/** Everything the ledger and the lake say about one day. */
export interface DayState {
  dt: string;
  commit?: GoldCommit;
  /** Data files directly in the day's gold directory with no commit: gold written without a ledger. */
  foreignFiles: string[];
  publication?: Publication;
  /**
   * Etags of the records as read (absent: no record), so a writer replaces only the version it
   * decided from (docs/design.md, "Conditional ledger writes"). Unset in states not read from a lake.
   */
  etags?: { commit?: string; publication?: string };
}

export function ledgerRoot(req: BackfillRequest): string {
  return lakePath('ledger_root', { root: lakeRoot(req.bucket), prefix: DEFAULT_LAKE_PREFIXES.ledger });
}

/** The folder of a version's gold commit records (one `dt=D.json` per day). */
export function goldCommitDir(req: BackfillRequest): string {
  return lakePath('gold_commit_dir', { ledger_root: ledgerRoot(req), version: req.featureVersion });
}

export function goldCommitUri(req: BackfillRequest, dt: string): string {
  return lakePath('gold_commit', { ledger_root: ledgerRoot(req), version: req.featureVersion, dt });
}

/** Values of the publication paths of the request's group and version. */
function publicationValues(req: BackfillRequest, dt: string): Record<string, string> {
  return { ledger_root: ledgerRoot(req), group: req.featureGroup, version: req.featureVersion, dt };
}

export function publicationUri(req: BackfillRequest, dt: string): string {
  return lakePath('publication', publicationValues(req, dt));
}

/** The day's dead-letter folder: one JSON-lines file per batch with refused records (`batch=N.jsonl`). */
export function deadLetterUri(req: BackfillRequest, dt: string): string {
  return lakePath('dead_letter', publicationValues(req, dt));
}

export async function readDayState(lake: Lake, req: BackfillRequest, dt: string): Promise<DayState> {
  const commitUri = goldCommitUri(req, dt);
  const pubUri = publicationUri(req, dt);
  const commitRead = await lake.readTextWithEtag(commitUri);
  const pubRead = await lake.readTextWithEtag(pubUri);
  const commit = parseJson<GoldCommit>(commitRead?.text, commitUri);
  const publication = parseJson<Publication>(pubRead?.text, pubUri);
  const foreignFiles = commit ? [] : await flatGoldFiles(lake, req, dt);
  return { dt, commit, foreignFiles, publication, etags: { commit: commitRead?.etag, publication: pubRead?.etag } };
}

/** Parquet files directly in the day's gold directory (not in a run's own subdirectory). */
async function flatGoldFiles(lake: Lake, req: BackfillRequest, dt: string): Promise<string[]> {
  const dir = goldPartition(req, dt);
  return (await lake.list(dir))
    .map((f) => f.uri)
    .filter((u) => u.endsWith('.parquet') && !u.slice(dir.length + 1).includes('/'));
}

/**
 * Replaces the day's publication record only if it is still the version this writer read (`etag`;
 * undefined: only if there is none), and returns the new etag. A record changed meanwhile means a
 * second writer: a non-retryable LedgerConflict failure naming the record, never an overwrite.
 */
export async function writePublication(
  lake: Lake,
  req: BackfillRequest,
  { pub, etag }: { pub: Publication; etag: string | undefined },
): Promise<string> {
  return writeLedgerRecord(lake, publicationUri(req, pub.dt), {
    text: JSON.stringify({ ...pub, updated_at: new Date().toISOString() }, null, 2),
    etag,
  });
}

/** A conditional write of any ledger record (create when `etag` is undefined), conflicts made final. */
export async function writeLedgerRecord(
  lake: Lake,
  uri: string,
  { text, etag }: { text: string; etag: string | undefined },
): Promise<string> {
  try {
    return await lake.writeTextIf(uri, text, etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag });
  } catch (err) {
    throw ledgerConflictFailure(err);
  }
}

/** A LedgerConflictError as the activity's failure; any other error unchanged. */
export function ledgerConflictFailure(err: unknown): unknown {
  if (!(err instanceof LedgerConflictError)) return err;
  // Non-retryable: a second writer exists; blindly retrying would overwrite what it wrote.
  return ApplicationFailure.nonRetryable(err.message, FAILURE.ledgerConflict, {
    record: err.uri,
    expected: err.expected,
    found: err.found,
  });
}

/** Does the publication record describe this commit's gold (not an earlier gold of the day)? */
export function publicationOf(state: DayState): Publication | undefined {
  const { commit, publication } = state;
  if (!commit || !publication) return undefined;
  const same = publication.gold_run_id === commit.run_id && sameList(publication.gold_files, commit.files);
  return same ? publication : undefined;
}

/** Why the Spark step computes or keeps a day. */
export type GoldDecision =
  | { action: 'compute'; reason: 'no_gold' | 'overwrite' }
  | { action: 'keep'; reason: 'this_run' | 'existing' | 'foreign' };

/**
 * The Spark step's rule for a day. Gold this same backfill run committed is kept even under
 * overwrite (a retried chunk resumes instead of rebuilding); other gold is kept unless overwrite.
 */
export function goldDecision(state: DayState, req: BackfillRequest, runId: string): GoldDecision {
  if (state.commit?.run_id === runId) return { action: 'keep', reason: 'this_run' };
  if (req.overwrite) return { action: 'compute', reason: 'overwrite' };
  if (state.commit && state.commit.rows > 0) return { action: 'keep', reason: 'existing' };
  if (!state.commit && state.foreignFiles.length > 0) return { action: 'keep', reason: 'foreign' };
  return { action: 'compute', reason: 'no_gold' };
}

/** What ingestion does with a day's current gold. */
export type PublishAction = 'send' | 'resume' | 'published' | 'foreign' | 'empty';

export function publishAction(state: DayState, req: BackfillRequest): PublishAction {
  if (!state.commit) {
    if (state.foreignFiles.length === 0) return 'empty';
    // Gold with no ledger record (e.g. the pipeline we replace) was published by whoever wrote it.
    return req.republish ? 'send' : 'foreign';
  }
  if (state.commit.rows === 0) return 'empty';
  const pub = publicationOf(state);
  if (!pub) return 'send';
  return pub.status === 'done' ? 'published' : 'resume';
}

function parseJson<T>(text: string | undefined, uri: string): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    // Records are replaced whole, so this is damage from outside: guessing could publish twice.
    throw new Error(`ledger record ${uri} is not valid JSON (${(err as Error).message}); restore or remove it`);
  }
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The directory readers should use for the day (the catalog's partition location), or null for none. */
export function currentLocation(state: DayState, req: BackfillRequest): string | null {
  if (state.commit) return state.commit.rows > 0 ? state.commit.location : null;
  return state.foreignFiles.length > 0 ? goldPartition(req, state.dt) : null;
}

/**
 * Files of earlier runs' gold for the day that no reader needs any more: everything under the day's
 * `run=` directories except the current location and, with `keepPrevious`, the one before it (kept
 * for rollback, and for readers that looked the partition up just before the switch).
 */
export async function staleRunFiles(
  lake: Lake,
  req: BackfillRequest,
  state: DayState,
  { keepPrevious = true }: { keepPrevious?: boolean } = {},
): Promise<string[]> {
  if (!state.commit) return [];
  const keep = [state.commit.location, keepPrevious ? state.commit.previous_location : null]
    .filter((l): l is string => !!l)
    .map((l) => `${l}/`);
  const dir = `${goldPartition(req, state.dt)}/${GOLD_RUN_PARTITION}=`;
  return (await lake.list(goldPartition(req, state.dt)))
    .map((f) => f.uri)
    .filter((u) => u.startsWith(dir) && !keep.some((k) => u.startsWith(k)));
}
