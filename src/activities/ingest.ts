/**
 * Feature Store ingestion of a chunk's gold rows: BatchWriteRecord in batches of 25, several
 * batches in flight, UnprocessedEntries and throttled calls retried with exponential backoff and
 * full jitter, permanent record errors collected (never dropped), and a checkpoint after every
 * acknowledged batch so a retried attempt resumes instead of writing records twice.
 */
import type { BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';
import type { ChunkManifest, FailedRecord, IngestResult } from '../common/results';
import { type FeatureStore, type Lake, type RecordEntry, ThrottledError } from './backends';
import { goldRowToRecord } from './feature-records';
import { deadLetterUri, goldPartition, ingestMarker } from './lake-paths';

export interface IngestOptions {
  batchSize: number;
  maxInFlight: number;
  /** Tries of one batch before the attempt gives up (the activity retry then resumes it). */
  maxBatchTries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Beyond this many permanently failed records the data is wrong, not the store: stop. */
  maxFailedRecords: number;
}

export const DEFAULT_INGEST_OPTIONS: IngestOptions = {
  batchSize: 25,
  maxInFlight: 4,
  maxBatchTries: 12,
  baseDelayMs: 50,
  maxDelayMs: 10_000,
  maxFailedRecords: 10_000,
};

/** Where an ingest attempt got to; kept in heartbeat details. */
export interface IngestCheckpoint {
  /** Identifies the gold files the batch numbers refer to. */
  filesKey: string;
  /** Every batch below this number is acknowledged. */
  ackedPrefix: number;
  /** Acknowledged batches above the prefix (batches finish out of order). */
  ackedAhead: number[];
  recordsWritten: number;
  failedRecords: FailedRecord[];
  retries: number;
  throttled: number;
  batches: number;
}

export interface IngestContext {
  checkpoint?: IngestCheckpoint;
  heartbeat(checkpoint: IngestCheckpoint): void;
  sleep(ms: number): Promise<void>;
  random?: () => number;
}

export interface IngestMarker {
  status: 'done';
  files: string[];
  records: number;
  failed: number;
  finishedAt: string;
}

/** Error codes of BatchWriteRecord entries that succeed when sent again. */
const RETRYABLE_ENTRY_CODES = new Set(['ThrottlingException', 'InternalFailure', 'ServiceUnavailable', 'Throttling']);

export async function ingestChunk(
  deps: { lake: Lake; featureStore: FeatureStore },
  request: BackfillRequest,
  chunk: ChunkSpec,
  manifest: ChunkManifest,
  ctx: IngestContext,
  options: IngestOptions = DEFAULT_INGEST_OPTIONS,
): Promise<IngestResult> {
  const { lake, featureStore } = deps;
  const random = ctx.random ?? Math.random;
  // Only partitions this run wrote are sent; skipped ones were published before (the offline
  // store is append-only, so sending them again would duplicate rows there).
  const dates = [...manifest.written_partitions].sort();
  const filesByDate = new Map<string, string[]>();
  const alreadyIngested: string[] = [];
  for (const dt of dates) {
    const files = (await lake.list(goldPartition(request, dt))).map((f) => f.uri).filter((u) => u.endsWith('.parquet'));
    const marker = parseMarker(await lake.readText(ingestMarker(request, dt)));
    if (marker && sameFiles(marker.files, files)) alreadyIngested.push(dt);
    else filesByDate.set(dt, files);
  }
  const filesKey = JSON.stringify([...filesByDate.entries()]);
  const previous = ctx.checkpoint?.filesKey === filesKey ? ctx.checkpoint : undefined;
  const state: IngestCheckpoint = previous
    ? { ...previous, ackedAhead: [...previous.ackedAhead], failedRecords: [...previous.failedRecords] }
    : { filesKey, ackedPrefix: 0, ackedAhead: [], recordsWritten: 0, failedRecords: [], retries: 0, throttled: 0, batches: 0 };
  const isAcked = (n: number) => n < state.ackedPrefix || state.ackedAhead.includes(n);
  const ack = (n: number) => {
    state.ackedAhead.push(n);
    while (state.ackedAhead.includes(state.ackedPrefix)) {
      state.ackedAhead.splice(state.ackedAhead.indexOf(state.ackedPrefix), 1);
      state.ackedPrefix += 1;
    }
    ctx.heartbeat(state);
  };

  let recordsRead = 0;
  let batchNumber = 0;
  for (const [dt, files] of filesByDate) {
    const rows: { record: RecordEntry; eventId: string; recordId: string }[] = [];
    for (const file of files) {
      for (const row of await lake.readParquet(file)) {
        rows.push({
          record: { FeatureGroupName: request.featureGroup, Record: goldRowToRecord(row, request.featureVersion) },
          eventId: String(row.event_id),
          recordId: String(row.card_id),
        });
      }
    }
    recordsRead += rows.length;
    const batches: (typeof rows)[] = [];
    for (let i = 0; i < rows.length; i += options.batchSize) batches.push(rows.slice(i, i + options.batchSize));
    const numbered = batches.map((batch) => ({ n: batchNumber++, batch })).filter(({ n }) => !isAcked(n));

    // A small pool: at most maxInFlight batches are being written at any time.
    let next = 0;
    const workers = Array.from({ length: Math.min(options.maxInFlight, numbered.length) }, async () => {
      while (next < numbered.length) {
        const { n, batch } = numbered[next++];
        const failed = await writeBatch(featureStore, batch, dt, state, ctx, random, options);
        state.failedRecords.push(...failed);
        if (state.failedRecords.length > options.maxFailedRecords) {
          throw new Error(
            `more than ${options.maxFailedRecords} records failed permanently; first: ${JSON.stringify(state.failedRecords[0])}`,
          );
        }
        state.recordsWritten += batch.length - failed.length;
        state.batches += 1;
        ack(n);
      }
    });
    await Promise.all(workers);
    const marker: IngestMarker = {
      status: 'done',
      files,
      records: rows.length,
      failed: state.failedRecords.filter((f) => f.dt === dt).length,
      finishedAt: new Date().toISOString(),
    };
    await lake.writeText(ingestMarker(request, dt), JSON.stringify(marker, null, 2));
  }

  let deadLetterLocation: string | undefined;
  if (state.failedRecords.length > 0) {
    deadLetterLocation = deadLetterUri(request, chunk.id);
    await lake.writeText(deadLetterLocation, state.failedRecords.map((f) => JSON.stringify(f)).join('\n') + '\n');
  }
  return {
    featureGroup: request.featureGroup,
    ingestedDates: [...filesByDate.keys()],
    alreadyIngestedDates: alreadyIngested,
    recordsRead,
    recordsWritten: state.recordsWritten,
    failedRecords: state.failedRecords,
    deadLetterLocation,
    batches: state.batches,
    retries: state.retries,
    throttled: state.throttled,
    resumed: previous !== undefined,
  };
}

/** Writes one batch until every entry is written or failed for good; returns the failures. */
async function writeBatch(
  store: FeatureStore,
  batch: { record: RecordEntry; eventId: string; recordId: string }[],
  dt: string,
  state: IngestCheckpoint,
  ctx: IngestContext,
  random: () => number,
  options: IngestOptions,
): Promise<FailedRecord[]> {
  let pending = batch.map((_, i) => i);
  const failed: FailedRecord[] = [];
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) {
      if (attempt >= options.maxBatchTries) {
        throw new Error(`batch not accepted after ${options.maxBatchTries} tries (${pending.length} records pending)`);
      }
      state.retries += 1;
      // Full jitter: a random wait up to the exponential bound spreads retries of many batches.
      const bound = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
      await ctx.sleep(Math.floor(random() * bound));
    }
    let outcome;
    try {
      outcome = await store.batchWrite(pending.map((i) => batch[i].record));
    } catch (err) {
      if (err instanceof ThrottledError) {
        state.throttled += 1;
        continue;
      }
      throw err;
    }
    const retry = new Set(outcome.unprocessed.map((k) => pending[k]));
    for (const e of outcome.errors) {
      const i = pending[e.index];
      if (RETRYABLE_ENTRY_CODES.has(e.code)) retry.add(i);
      else failed.push({ recordId: batch[i].recordId, eventId: batch[i].eventId, dt, code: e.code, message: e.message });
    }
    if (retry.size > 0 && outcome.unprocessed.length > 0) state.throttled += 1;
    pending = [...retry].sort((a, b) => a - b);
  }
  return failed;
}

function parseMarker(text: string | undefined): IngestMarker | undefined {
  if (!text) return undefined;
  try {
    const m = JSON.parse(text) as IngestMarker;
    return m.status === 'done' && Array.isArray(m.files) ? m : undefined;
  } catch {
    return undefined;
  }
}

function sameFiles(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
