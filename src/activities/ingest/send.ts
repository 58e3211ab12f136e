/**
 * Sending a chunk's days: maxInFlight workers take batches from one queue, write each
 * (write-batch.ts) and record its refused records and its acknowledgement in the lake before
 * taking the next.
 */
import type { BackfillRequest } from '../../common/input';
import type { FailedRecord } from '../../common/results';
import type { FeatureStore, IngestOptions, Lake } from '../backends';
import { goldRowToRecord } from '../feature-records';
import { deadLetterUri, writeLedgerRecord, type GoldCommit } from '../ledger/records';
import { limiterFor, type AimdLimiter } from './aimd';
import { BatchQueue, type Batch } from './batch-queue';
import type { IngestContext, Row } from './context';
import type { DayPublication } from './day-publication';
import { writeBatch } from './write-batch';

type Job = Batch<Row>;

export interface SendOutcome {
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
export async function sendDays(
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

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
