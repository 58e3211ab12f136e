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
import type { IngestResult } from '../../common/results';
import type { FeatureStore, IngestOptions, Lake } from '../backends';
import { goldPartition } from '../lake-paths';
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
import type { IngestContext } from './context';
import { sendDays, type SendOutcome } from './send';

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
