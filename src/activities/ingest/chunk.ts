/**
 * Feature Store ingestion of a chunk's gold rows: BatchWriteRecord in batches of 25, an adaptive
 * number of calls in flight (AIMD: one more per round of successful calls, cut by 30% when the
 * store throttles), UnprocessedEntries and throttled or failed calls retried with exponential
 * backoff and full jitter, permanent record errors kept in a dead-letter file (never dropped), and
 * every acknowledged batch recorded in the publication ledger before the worker takes the next one,
 * so a retried attempt resumes where the last one got to and a crash re-sends at most the batches in
 * flight.
 */
import { CancelledFailure } from '@temporalio/common';
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import { dateRange } from '../../common/dates';
import type { TargetStoresChoice } from '../../common/publication-plan';
import type { FailedRecord, IngestResult } from '../../common/results';
import {
  type BatchWriteOutcome,
  type FeatureStore,
  type IngestOptions,
  type Lake,
  type RecordEntry,
  ThrottledError,
  TransientStoreError,
} from '../backends';
import { goldRowToRecord } from '../feature-records';
import { goldPartition } from '../lake-paths';
import { BatchQueue, type Batch } from './batch-queue';
import { DayPublication, openDay } from './day-publication';
import {
  deadLetterUri,
  goldCommitUri,
  publishAction,
  readDayState,
  writeLedgerRecord,
  type DayState,
  type GoldCommit,
  type Publication,
  type PublishAction,
} from '../ledger/records';

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
    for (let free = Math.floor(this.limit) - this.inFlight; free > 0 && this.waiters.length > 0; free--)
      this.waiters.shift()!();
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

/** Small progress for heartbeats: the checkpoint itself lives in the ledger. */
export interface IngestProgress {
  recordsWritten: number;
  batches: number;
}

export interface IngestContext {
  heartbeat(progress: IngestProgress): void;
  sleep(ms: number): Promise<void>;
  random?: () => number;
  /**
   * Aborted when the activity is cancelled: no batch is taken after it, calls in flight end and
   * their acknowledgements are recorded, then the attempt fails as cancelled.
   * @default never aborted
   */
  cancellation?: AbortSignal;
}

export interface IngestChunkInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** The backfill run publishing: days it published in earlier attempts count as its own. */
  runId?: string;
  ctx: IngestContext;
  /** @default DEFAULT_INGEST_OPTIONS */
  options?: IngestOptions;
}

/** One ingest attempt over a chunk's days, reading and replacing their publication records. */
export async function ingestChunk(
  deps: { lake: Lake; featureStore: FeatureStore },
  input: IngestChunkInput,
): Promise<IngestResult> {
  const { request, chunk, ctx } = input;
  const options = input.options ?? DEFAULT_INGEST_OPTIONS;
  const plan = await planPublication(deps.lake, request, chunk);
  const days = await openDays(deps.lake, { request, plan, batchSize: options.batchSize, runId: input.runId });
  countPossibleDuplicates(days, options);
  for (const day of days) day.pub.sending = true;
  await Promise.all(days.map((d) => d.flush()));

  const sent = await sendDays(deps, { request, days, ctx, options });
  // Every batch has ended (acknowledged or given up): nothing is in doubt any more. A day whose
  // record another writer took fails its flush without writing (LedgerConflict).
  for (const day of days) day.pub.sending = false;
  await Promise.all(days.map((d) => d.flush()));
  if (sent.failure) throw sent.failure.error;
  if (ctx.cancellation?.aborted) {
    const written = days.reduce((s, d) => s + d.pub.records_written, 0);
    throw new CancelledFailure(`ingestion cancelled after ${sent.batches} batches (${written} records acknowledged)`);
  }
  return ingestResult({ request, plan, days, sent, runId: input.runId });
}

type DayPlan = Awaited<ReturnType<typeof planPublication>>;

/** The days to send or resume, each with its publication record (a new one, or the one to resume). */
async function openDays(
  lake: Lake,
  { request, plan, batchSize, runId }: { request: BackfillRequest; plan: DayPlan; batchSize: number; runId?: string },
): Promise<DayPublication[]> {
  const days: DayPublication[] = [];
  for (const { state, action } of plan) {
    if (action !== 'send' && action !== 'resume') continue;
    const commit = state.commit ?? (await adoptForeignGold(lake, request, state));
    days.push(openDay(lake, request, { state, action, commit, batchSize, runId }));
  }
  return days;
}

/**
 * The attempt's result. Days this run published, in this attempt or an earlier one (a retry after
 * a failure, a resumed backfill, or the Spark job's offline publication) count as its own; others
 * were published before it.
 */
function ingestResult({
  request,
  plan,
  days,
  sent,
  runId,
}: {
  request: BackfillRequest;
  plan: DayPlan;
  days: DayPublication[];
  sent: SendOutcome;
  runId?: string;
}): IngestResult {
  const earlier = plan.filter((p) => p.action === 'published' && runId && p.state.publication?.published_by === runId);
  const pubs = [...earlier.map((p) => p.state.publication!), ...days.map((d) => d.pub)].sort((a, b) =>
    a.dt.localeCompare(b.dt),
  );
  const sum = (f: (p: Publication) => number) => pubs.reduce((s, p) => s + f(p), 0);
  const failedDays = pubs.filter((p) => p.records_failed > 0);
  return {
    featureGroup: request.featureGroup,
    ingestedDates: pubs.map((p) => p.dt),
    alreadyIngestedDates: plan.filter((p) => p.action === 'published' && !earlier.includes(p)).map((p) => p.state.dt),
    foreignDates: plan.filter((p) => p.action === 'foreign').map((p) => p.state.dt),
    recordsRead: sent.recordsRead,
    recordsWritten: sum((p) => p.records_written),
    failedRecords: sum((p) => p.records_failed),
    failedSample: sent.failedSample,
    deadLetterLocations: failedDays.map((p) => deadLetterUri(request, p.dt)),
    possibleDuplicates: sum((p) => p.possible_duplicates),
    batches: sent.batches,
    retries: sent.retries,
    throttled: sent.throttled,
    resumed: plan.some((p) => p.action === 'resume') || earlier.length > 0,
    inFlightLimit: sent.inFlightLimit,
  };
}

/** Each day of the chunk with what ingestion does with it (the dry run shows the same). */
export async function planPublication(lake: Lake, request: BackfillRequest, chunk: ChunkSpec) {
  const plan: { state: DayState; action: PublishAction }[] = [];
  for (const dt of dateRange(chunk.startDate, chunk.endDate)) {
    const state = await readDayState(lake, request, dt);
    plan.push({ state, action: publishAction(state, request) });
  }
  return plan;
}

/**
 * An attempt that died mid-batch left `sending` set: the batches it had in flight may have reached
 * the store. Workers wait for their batch's acknowledgement to be in the lake before taking the
 * next, so at most maxInFlight batches were in flight; they are among the unacknowledged ones.
 */
function countPossibleDuplicates(days: DayPublication[], options: IngestOptions): void {
  let budget = options.maxInFlight * options.batchSize;
  for (const day of days) {
    if (!day.pub.sending) continue;
    const inDoubt = Math.min(budget, day.unackedRecords);
    day.pub.possible_duplicates += inDoubt;
    budget -= inDoubt;
  }
}

/** `--republish` of gold written without a ledger: record it as a commit, then send it like ours. */
async function adoptForeignGold(lake: Lake, request: BackfillRequest, state: DayState): Promise<GoldCommit> {
  let rows = 0;
  for (const f of state.foreignFiles) rows += (await lake.readParquet(f)).length;
  const commit: GoldCommit = {
    dt: state.dt,
    feature_version: request.featureVersion,
    run_id: 'foreign',
    location: goldPartition(request, state.dt),
    files: state.foreignFiles,
    rows,
    code_revision: 'unknown',
    fingerprint: 'unknown',
    committed_at: new Date().toISOString(),
  };
  // Created only if still absent: a Spark job committing the day meanwhile wins, and this attempt stops.
  await writeLedgerRecord(lake, goldCommitUri(request, state.dt), {
    text: JSON.stringify(commit, null, 2),
    etag: state.etags?.commit,
  });
  return commit;
}

type Job = Batch<Row>;

interface SendOutcome {
  failure?: { error: unknown };
  recordsRead: number;
  batches: number;
  retries: number;
  throttled: number;
  failedSample: FailedRecord[];
  inFlightLimit: { final: number; low: number; high: number };
}

/**
 * Sends every unacknowledged batch of the days. maxInFlight workers share the store's adaptive
 * limit; a worker takes its next batch only once the last one's acknowledgement is in the lake, so
 * a crash re-sends at most maxInFlight batches. Days are read one at a time, as the queue runs dry.
 */
async function sendDays(
  deps: { lake: Lake; featureStore: FeatureStore },
  {
    request,
    days,
    ctx,
    options,
  }: { request: BackfillRequest; days: DayPublication[]; ctx: IngestContext; options: IngestOptions },
): Promise<SendOutcome> {
  const limiter = limiterFor(deps.featureStore, options);
  const stats = { retries: 0, throttled: 0 };
  const out: SendOutcome = {
    recordsRead: 0,
    batches: 0,
    retries: 0,
    throttled: 0,
    failedSample: [],
    inFlightLimit: { final: 0, low: 0, high: 0 },
  };
  const queue = new BatchQueue(days, async (day) => {
    const gold = await readGoldRows(deps.lake, request, day.commit);
    // Records resumed from before interleaving keep their batches as numbered then.
    return day.pub.record_order === 'interleaved' ? interleaveRecordIds(gold) : gold;
  });
  // A failure, a ledger conflict or a cancel stops every worker from taking another batch.
  const stopped = () => out.failure !== undefined || ctx.cancellation?.aborted === true;
  const workers = Array.from({ length: options.maxInFlight }, async () => {
    while (!stopped()) {
      try {
        const job = await queue.take();
        // Checked again after the wait for a batch: nothing new starts once the attempt stops.
        if (!job || stopped()) return;
        await sendAndRecord(deps, { job, request, days, ctx, options, limiter, stats, out });
      } catch (error) {
        out.failure ??= { error };
      }
    }
  });
  // Every worker ends its current batch before the attempt fails: nothing keeps writing behind
  // the retry's back, and the ledger covers every batch that was acknowledged.
  await Promise.all(workers);
  Object.assign(out, stats, {
    recordsRead: queue.recordsRead,
    inFlightLimit: { final: round1(limiter.limit), low: round1(limiter.low), high: round1(limiter.high) },
  });
  return out;
}

interface SendInput {
  job: Job;
  request: BackfillRequest;
  days: DayPublication[];
  ctx: IngestContext;
  options: IngestOptions;
  limiter: AimdLimiter;
  stats: { retries: number; throttled: number };
  out: SendOutcome;
}

/** Sends one batch, then records its refused records and its acknowledgement in the lake. */
async function sendAndRecord(
  deps: { lake: Lake; featureStore: FeatureStore },
  { job, request, days, ctx, options, limiter, stats, out }: SendInput,
): Promise<void> {
  const taken = { entries: 0 };
  let failed;
  try {
    failed = await writeBatch({
      store: deps.featureStore,
      limiter,
      batch: job.batch,
      dt: job.day.commit.dt,
      targets: job.day.targets,
      stats,
      ctx,
      options,
      taken,
    });
  } catch (err) {
    // A batch given up part-way (cancelled in a backoff, out of tries): the entries the store took are
    // not acknowledged, so the retry sends them again; the report counts them as possible duplicates.
    job.day.pub.possible_duplicates += taken.entries;
    throw err;
  }
  const dt = job.day.commit.dt;
  if (failed.length > 0)
    await recordFailures(deps.lake, { request, dt, batch: job.n, failed, sample: out.failedSample });
  job.day.ack(job.n, job.batch.length - failed.length, failed.length);
  out.batches += 1;
  await job.day.flush();
  ctx.heartbeat({ recordsWritten: days.reduce((s, d) => s + d.pub.records_written, 0), batches: out.batches });
  const failedTotal = days.reduce((s, d) => s + d.pub.records_failed, 0);
  if (failedTotal > options.maxFailedRecords) {
    throw new Error(
      `more than ${options.maxFailedRecords} records failed permanently; see ${deadLetterUri(request, dt)}`,
    );
  }
}

/**
 * Gold is laid out by card, so consecutive batches would hit the same few record identifiers, and
 * the online store takes 500 writes/s per identifier. Taking one row of each card in turn spreads
 * every batch (and the batches in flight) over as many cards as the day has; the order depends only
 * on the gold, so a resumed attempt numbers its batches the same way.
 */
export function interleaveRecordIds<T extends { recordId: string }>(rows: T[]): T[] {
  const byId = new Map<string, T[]>();
  for (const row of rows) {
    const list = byId.get(row.recordId);
    if (list) list.push(row);
    else byId.set(row.recordId, [row]);
  }
  const out: T[] = [];
  // Cards with rows left, in order of first appearance; a card leaves once it has given all its rows.
  let active = [...byId.values()];
  for (let round = 0; active.length > 0; round++) {
    for (const q of active) out.push(q[round]);
    active = active.filter((q) => q.length > round + 1);
  }
  return out;
}

async function readGoldRows(lake: Lake, request: BackfillRequest, commit: GoldCommit): Promise<Row[]> {
  const rows: Row[] = [];
  for (const file of commit.files) {
    for (const row of await lake.readParquet(file)) {
      rows.push({
        record: { FeatureGroupName: request.featureGroup, Record: goldRowToRecord(row, request.featureVersion) },
        eventId: String(row.event_id),
        recordId: String(row.card_id),
      });
    }
  }
  return rows;
}

/**
 * Refused records go to the day's dead-letter folder as they happen, one file per batch (written
 * whole: a batch sent again after a crash replaces its file); payloads carry only a sample.
 */
async function recordFailures(
  lake: Lake,
  {
    request,
    dt,
    batch,
    failed,
    sample,
  }: { request: BackfillRequest; dt: string; batch: number; failed: FailedRecord[]; sample: FailedRecord[] },
): Promise<void> {
  // Replaced only as read: the day's record already makes this attempt its one writer, this keeps it so.
  const uri = `${deadLetterUri(request, dt)}/batch=${batch}.jsonl`;
  const before = await lake.readTextWithEtag(uri);
  await writeLedgerRecord(lake, uri, {
    text: failed.map((f) => JSON.stringify(f)).join('\n') + '\n',
    etag: before?.etag,
  });
  sample.push(...failed.slice(0, Math.max(0, FAILED_SAMPLE - sample.length)));
}

/** Failed records carried in results and failures, as examples: the dead-letter files hold them all. */
const FAILED_SAMPLE = 5;

interface WriteBatchInput {
  store: FeatureStore;
  limiter: AimdLimiter;
  batch: Row[];
  dt: string;
  targets: TargetStoresChoice;
  stats: { retries: number; throttled: number };
  ctx: IngestContext;
  options: IngestOptions;
  /** Entries of the batch the store has taken so far (counted as calls answer). */
  taken: { entries: number };
}

/** Writes one batch until every entry is written or failed for good; returns the failures. */
async function writeBatch(input: WriteBatchInput): Promise<FailedRecord[]> {
  const { store, limiter, batch, dt, targets, stats, ctx, taken } = input;
  let pending = batch.map((_, i) => i);
  const failed: FailedRecord[] = [];
  const tries: Tries = { error: 0, throttled: 0, lastError: undefined };
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await backoff(input, { tries, pending: pending.length });
    const ticket = await limiter.acquire();
    if (ctx.cancellation?.aborted) {
      // Cancelled while waiting for a slot or a backoff: no call starts after the cancel.
      limiter.release(ticket, 'neutral');
      throw new CancelledFailure(`ingestion cancelled (${pending.length} records of a batch not sent)`);
    }
    let outcome;
    try {
      outcome = await store.batchWrite(
        pending.map((i) => batch[i].record),
        targets,
      );
    } catch (err) {
      if (err instanceof ThrottledError) {
        limiter.release(ticket, 'throttled');
        stats.throttled += 1;
        tries.throttled += 1;
        continue;
      }
      limiter.release(ticket, 'neutral');
      // A server fault or a dropped connection: the same call may well succeed later.
      if (err instanceof TransientStoreError) {
        tries.error += 1;
        tries.lastError = err;
        continue;
      }
      throw err;
    }
    const failedBefore = failed.length;
    const retry = entriesToRetry(outcome, { pending, batch, dt, failed });
    taken.entries += pending.length - retry.size - (failed.length - failedBefore);
    // Nothing taken at all is the store pushing back; a few entries left over are not.
    const allRefused = retry.size === pending.length;
    limiter.release(ticket, allRefused ? 'throttled' : 'ok');
    if (retry.size > 0) stats.throttled += 1;
    tries.throttled = allRefused ? tries.throttled + 1 : 0;
    pending = [...retry].sort((a, b) => a - b);
  }
  return failed;
}

interface Tries {
  error: number;
  /** Calls in a row that the store refused whole. */
  throttled: number;
  lastError: unknown;
}

/** Gives up when the batch is out of tries; else waits a backoff before its next call. */
async function backoff(
  { stats, ctx, options }: WriteBatchInput,
  { tries, pending }: { tries: Tries; pending: number },
): Promise<void> {
  if (tries.error >= options.maxBatchTries) {
    throw new Error(
      `batch not accepted after ${tries.error} failed calls (${pending} records pending): ${describe(tries.lastError)}`,
    );
  }
  if (tries.throttled >= (options.maxThrottledTries ?? 60)) {
    throw new Error(
      `batch throttled ${tries.throttled} times in a row (${pending} records pending); the store's quota is exhausted`,
    );
  }
  stats.retries += 1;
  // Full jitter: a random wait up to the exponential bound spreads retries of many batches.
  const bound = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.min(tries.error + tries.throttled, 20));
  await ctx.sleep(Math.floor((ctx.random ?? Math.random)() * bound));
}

/** The entries of a call's answer to send again; those refused for good are added to `failed`. */
function entriesToRetry(
  outcome: BatchWriteOutcome,
  { pending, batch, dt, failed }: { pending: number[]; batch: Row[]; dt: string; failed: FailedRecord[] },
): Set<number> {
  const retry = new Set(outcome.unprocessed.map((k) => pending[k]));
  for (const e of outcome.errors) {
    const i = pending[e.index];
    if (RETRYABLE_ENTRY_CODES.has(e.code)) retry.add(i);
    else failed.push({ recordId: batch[i].recordId, eventId: batch[i].eventId, dt, code: e.code, message: e.message });
  }
  return retry;
}

function describe(err: unknown): string {
  // A transient store error is described by the fault it wraps (the store's own error).
  const e = (err instanceof TransientStoreError ? err.cause : err) as { name?: string; message?: string } | undefined;
  return e ? `${e.name ?? 'Error'}: ${e.message ?? String(err)}` : 'no error';
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
