/**
 * One batch written to the feature store until every entry is written or failed for good:
 * throttled or failed calls and unprocessed entries retried with exponential backoff and full
 * jitter, within the batch's tries.
 */
import { CancelledFailure } from '@temporalio/common';
import type { TargetStoresChoice } from '../../common/publication-plan';
import type { FailedRecord } from '../../common/results';
import {
  type BatchWriteOutcome,
  type FeatureStore,
  type IngestOptions,
  ThrottledError,
  TransientStoreError,
} from '../backends';
import type { AimdLimiter } from './aimd';
import type { IngestContext, Row } from './context';

export interface WriteBatchInput {
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
export async function writeBatch(input: WriteBatchInput): Promise<FailedRecord[]> {
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
    // The store answers entries worth sending again as unprocessed (BatchWriteOutcome): these failed for good.
    failed.push({ recordId: batch[i].recordId, eventId: batch[i].eventId, dt, code: e.code, message: e.message });
  }
  return retry;
}

function describe(err: unknown): string {
  // A transient store error is described by the fault it wraps (the store's own error).
  const e = (err instanceof TransientStoreError ? err.cause : err) as { name?: string; message?: string } | undefined;
  return e ? `${e.name ?? 'Error'}: ${e.message ?? String(err)}` : 'no error';
}
