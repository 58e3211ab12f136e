/**
 * Feature Store ingestion of a chunk's gold rows: BatchWriteRecord in batches of 25, an adaptive
 * number of calls in flight (AIMD: one more per round of successful calls, cut by 30% when the
 * store throttles), UnprocessedEntries and throttled or failed calls retried with exponential
 * backoff and full jitter, permanent record errors collected (never dropped), and a checkpoint
 * after every acknowledged batch so a retried attempt resumes instead of writing records twice.
 */
import type { BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';
import type { ChunkManifest, FailedRecord, IngestResult } from '../common/results';
import { isThrottling, isTransient } from './aws/errors';
import { type FeatureStore, type Lake, type RecordEntry, ThrottledError } from './backends';
import { goldRowToRecord } from './feature-records';
import { deadLetterUri, goldPartition, ingestMarker } from './lake-paths';

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

export const DEFAULT_INGEST_OPTIONS: IngestOptions = {
  batchSize: 25,
  // Enough to fill a quota of several thousand records/s at tens of ms per call; AIMD finds the level.
  maxInFlight: 32,
  maxBatchTries: 12,
  baseDelayMs: 50,
  maxDelayMs: 10_000,
  maxFailedRecords: 10_000,
  initialInFlight: 4,
  // At up to 10 s per wait this is minutes of continuous throttling: the quota is gone, fail and let the retry resume.
  maxThrottledTries: 60,
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

/**
 * Additive increase, multiplicative decrease of the calls in flight, like TCP's congestion window:
 * grows by about one per round of successful calls, shrinks by DECREASE on throttling, at most once
 * per round (calls that started before the last cut were sent at the old level and say nothing new).
 */
export class AimdLimiter {
  private inFlight = 0;
  private lastCut = -Infinity;
  private readonly waiters: (() => void)[] = [];
  /** Lowest and highest limit reached, for the report. */
  low: number;
  high: number;

  // 0.7 as in CUBIC: halving leaves the quota underused for longer than the token bucket can absorb.
  static readonly DECREASE = 0.7;

  constructor(
    public limit: number,
    private readonly max: number,
    private readonly min = 1,
  ) {
    this.limit = Math.max(min, Math.min(max, limit));
    this.low = this.limit;
    this.high = this.limit;
  }

  /** Waits for a free slot; returns the call's ticket, to hand back to release(). */
  async acquire(): Promise<AimdTicket> {
    while (this.inFlight >= Math.floor(this.limit)) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.inFlight += 1;
    return { startedAt: performance.now(), saturated: this.inFlight >= Math.floor(this.limit) };
  }

  release(ticket: AimdTicket, outcome: 'ok' | 'throttled' | 'neutral'): void {
    this.inFlight -= 1;
    // Grow only when the limit was what held calls back: a limit that is not reached says nothing
    // about the store, and growing it anyway would let a later burst far overshoot (as TCP's RFC 7661).
    if (outcome === 'ok' && ticket.saturated) this.limit = Math.min(this.max, this.limit + 1 / this.limit);
    if (outcome === 'throttled' && ticket.startedAt > this.lastCut) {
      this.limit = Math.max(this.min, this.limit * AimdLimiter.DECREASE);
      this.lastCut = performance.now();
    }
    this.low = Math.min(this.low, this.limit);
    this.high = Math.max(this.high, this.limit);
    // Wake as many waiters as there are free slots; each checks again (another caller may be first).
    for (let free = Math.floor(this.limit) - this.inFlight; free > 0 && this.waiters.length > 0; free--) this.waiters.shift()!();
  }
}

export interface AimdTicket {
  startedAt: number;
  /** The call took the last free slot: the limit, not the caller, was what bounded the calls. */
  saturated: boolean;
}

// One limiter per store: concurrent chunks of a worker share the store's quota, so they share its limit.
const limiters = new WeakMap<FeatureStore, AimdLimiter>();

function limiterFor(store: FeatureStore, options: IngestOptions): AimdLimiter {
  let limiter = limiters.get(store);
  if (!limiter) {
    limiter = new AimdLimiter(options.initialInFlight ?? Math.min(4, options.maxInFlight), options.maxInFlight);
    limiters.set(store, limiter);
  }
  return limiter;
}

type Row = { record: RecordEntry; eventId: string; recordId: string };

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
  const limiter = limiterFor(featureStore, options);
  // Days this run wrote, and days it skipped because gold was there already. The ingest marker
  // decides: a day already sent from the same gold files is not sent again (the offline store is
  // append-only), while gold that never reached the store (its job's worker died, or the chunk
  // failed at ingest before) is sent now instead of being lost.
  const dates = [...new Set([...manifest.written_partitions, ...manifest.skipped_partitions])].sort();
  const filesByDate = new Map<string, string[]>();
  const alreadyIngested: string[] = [];
  /** Every day of the chunk in order, with the marker of a day already ingested from the same files. */
  const plan: { dt: string; files: string[]; done?: IngestMarker }[] = [];
  for (const dt of dates) {
    const files = (await lake.list(goldPartition(request, dt))).map((f) => f.uri).filter((u) => u.endsWith('.parquet'));
    if (files.length === 0) continue;
    const marker = parseMarker(await lake.readText(ingestMarker(request, dt)));
    const done = marker && sameFiles(marker.files, files) ? marker : undefined;
    if (done) alreadyIngested.push(dt);
    else filesByDate.set(dt, files);
    plan.push({ dt, files, done });
  }
  // Batch numbers run over every day, finished ones included (their count comes from the marker),
  // so a day finished by the failed attempt does not renumber the batches of the days after it.
  const filesKey = JSON.stringify(plan.map((p) => [p.dt, p.files]));
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

  // Days are read one at a time, when the batches of the days before are all handed out, and the
  // next day's batches start while the last ones of the day before are still being retried: one
  // pool over the whole chunk, so a day's stragglers never leave the store idle.
  let recordsRead = 0;
  let batchNumber = 0;
  let dayIndex = 0;
  const queue: { n: number; batch: Row[]; day: DayProgress }[] = [];
  let loading: Promise<void> | undefined;

  interface DayProgress {
    dt: string;
    files: string[];
    records: number;
    /** Batches of the day not yet acknowledged (in this attempt or an earlier one). */
    open: number;
  }

  const finishDay = async (day: DayProgress) => {
    const marker: IngestMarker = {
      status: 'done',
      files: day.files,
      records: day.records,
      failed: state.failedRecords.filter((f) => f.dt === day.dt).length,
      finishedAt: new Date().toISOString(),
    };
    await lake.writeText(ingestMarker(request, day.dt), JSON.stringify(marker, null, 2));
  };

  const loadDay = async ({ dt, files, done }: (typeof plan)[number]) => {
    if (done) {
      batchNumber += Math.ceil(done.records / options.batchSize);
      return;
    }
    const rows: Row[] = [];
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
    const day: DayProgress = { dt, files, records: rows.length, open: 0 };
    for (let i = 0; i < rows.length; i += options.batchSize) {
      const n = batchNumber++;
      if (isAcked(n)) continue;
      day.open += 1;
      queue.push({ n, batch: rows.slice(i, i + options.batchSize), day });
    }
    if (day.open === 0) await finishDay(day);
  };

  /** The next batch to write, reading the next day when the queue runs dry; undefined at the end. */
  const take = async () => {
    while (queue.length === 0 && dayIndex < plan.length) {
      // One reader at a time; the others wait for it and look again.
      loading ??= loadDay(plan[dayIndex++]).finally(() => (loading = undefined));
      await loading;
    }
    return queue.shift();
  };

  // Batches being worked on: twice the call ceiling, so batches waiting out a backoff do not
  // leave the store idle. The limiter decides how many of them have a call in flight.
  let failure: { error: unknown } | undefined;
  const workers = Array.from({ length: 2 * options.maxInFlight }, async () => {
    while (!failure) {
      try {
        const job = await take();
        if (!job) return;
        const { n, batch, day } = job;
        const failed = await writeBatch(featureStore, limiter, batch, day.dt, state, ctx, random, options);
        state.failedRecords.push(...failed);
        state.recordsWritten += batch.length - failed.length;
        state.batches += 1;
        ack(n);
        if (state.failedRecords.length > options.maxFailedRecords) {
          throw new Error(
            `more than ${options.maxFailedRecords} records failed permanently; first: ${JSON.stringify(state.failedRecords[0])}`,
          );
        }
        day.open -= 1;
        if (day.open === 0) await finishDay(day);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  // Every worker ends its current batch before the attempt fails: nothing keeps writing behind
  // the retry's back, and the last checkpoint covers every batch that was acknowledged.
  await Promise.all(workers);
  if (failure) throw failure.error;

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
    inFlightLimit: { final: round1(limiter.limit), low: round1(limiter.low), high: round1(limiter.high) },
  };
}

/** Writes one batch until every entry is written or failed for good; returns the failures. */
async function writeBatch(
  store: FeatureStore,
  limiter: AimdLimiter,
  batch: Row[],
  dt: string,
  state: IngestCheckpoint,
  ctx: IngestContext,
  random: () => number,
  options: IngestOptions,
): Promise<FailedRecord[]> {
  let pending = batch.map((_, i) => i);
  const failed: FailedRecord[] = [];
  let errorTries = 0;
  let throttledTries = 0;
  let lastError: unknown;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) {
      if (errorTries >= options.maxBatchTries) {
        throw new Error(`batch not accepted after ${errorTries} failed calls (${pending.length} records pending): ${describe(lastError)}`);
      }
      if (throttledTries >= (options.maxThrottledTries ?? 60)) {
        throw new Error(`batch throttled ${throttledTries} times in a row (${pending.length} records pending); the store's quota is exhausted`);
      }
      state.retries += 1;
      // Full jitter: a random wait up to the exponential bound spreads retries of many batches.
      const bound = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.min(errorTries + throttledTries, 20));
      await ctx.sleep(Math.floor(random() * bound));
    }
    const ticket = await limiter.acquire();
    let outcome;
    try {
      outcome = await store.batchWrite(pending.map((i) => batch[i].record));
    } catch (err) {
      if (err instanceof ThrottledError || isThrottling(err)) {
        limiter.release(ticket, 'throttled');
        state.throttled += 1;
        throttledTries += 1;
        continue;
      }
      limiter.release(ticket, 'neutral');
      // A server fault or a dropped connection: the same call may well succeed later.
      if (isTransient(err)) {
        errorTries += 1;
        lastError = err;
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
    // Nothing taken at all is the store pushing back; a few entries left over are not.
    const allRefused = retry.size === pending.length;
    limiter.release(ticket, allRefused ? 'throttled' : 'ok');
    if (retry.size > 0) {
      state.throttled += 1;
      if (allRefused) throttledTries += 1;
      else throttledTries = 0;
    } else {
      throttledTries = 0;
    }
    pending = [...retry].sort((a, b) => a - b);
  }
  return failed;
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string } | undefined;
  return e ? `${e.name ?? 'Error'}: ${e.message ?? String(err)}` : 'no error';
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
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
