/**
 * A day being published through the API: its publication record, replaced in the lake as batches are
 * acknowledged. Every replace is conditional on the version this attempt read or last wrote (docs/design.md, "Conditional ledger writes"):
 * a record changed by anyone else stops the attempt with LedgerConflict instead of being overwritten.
 */
import type { BackfillRequest } from '../../common/input';
import { newPublicationRecord } from '../../common/lake-contract';
import { dayTargets, targetStoreNames, type TargetStoresChoice } from '../../common/publication-plan';
import type { Lake } from '../backends';
import { writePublication, type DayState, type GoldCommit, type Publication } from '../ledger/records';

export interface DayPublicationInit {
  commit: GoldCommit;
  /** The record to resume (its batches numbered as it says); undefined: a new record. */
  previous?: Publication;
  /** Etag of the record at the day's URI when it was read (resumed or replaced); undefined: none. */
  etag: string | undefined;
  batchSize: number;
  runId?: string;
}

export class DayPublication {
  readonly pub: Publication;
  readonly commit: GoldCommit;
  private etag: string | undefined;
  private pending?: Promise<void>;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly lake: Lake,
    private readonly request: BackfillRequest,
    { commit, previous, etag, batchSize, runId }: DayPublicationInit,
  ) {
    this.commit = commit;
    this.etag = etag;
    this.pub = previous
      ? { ...previous, acked_ahead: [...previous.acked_ahead], attempts: previous.attempts + 1 }
      : newPublication(request, { commit, batchSize, runId });
  }

  /** The stores this day's records go to (a resumed record keeps the stores it started with). */
  get targets(): TargetStoresChoice {
    const names = this.pub.target_stores;
    if (!names || names.length === 2) return 'both';
    return names[0] === 'OfflineStore' ? 'offline' : 'online';
  }

  get batches(): number {
    return Math.ceil(this.pub.records / this.pub.batch_size);
  }

  isAcked(n: number): boolean {
    return n < this.pub.acked_prefix || this.pub.acked_ahead.includes(n);
  }

  /** Records of batches not yet acknowledged. */
  get unackedRecords(): number {
    let n = 0;
    for (let b = 0; b < this.batches; b++)
      if (!this.isAcked(b)) n += Math.min(this.pub.batch_size, this.pub.records - b * this.pub.batch_size);
    return n;
  }

  ack(n: number, written: number, failed: number): void {
    const p = this.pub;
    p.records_written += written;
    p.records_failed += failed;
    p.acked_ahead.push(n);
    while (p.acked_ahead.includes(p.acked_prefix)) {
      p.acked_ahead.splice(p.acked_ahead.indexOf(p.acked_prefix), 1);
      p.acked_prefix += 1;
    }
    if (p.acked_prefix >= this.batches) p.status = 'done';
  }

  /**
   * Resolves once a write holding the state as of this call is in the lake. Calls made while a
   * write is under way share the next one, so the lake sees one write per round, not per batch.
   * Once a write failed (a conflict), every later flush fails the same way without writing.
   */
  flush(): Promise<void> {
    this.pending ??= this.writing.then(() => {
      this.pending = undefined;
      this.writing = writePublication(this.lake, this.request, { pub: this.pub, etag: this.etag }).then((etag) => {
        this.etag = etag;
      });
      return this.writing;
    });
    return this.pending;
  }
}

/**
 * A new API publication record of the commit's gold, nothing acknowledged yet: the contract's record
 * (spark_jobs/card_features/contract.json, built as the job builds its own), led by the API's fields.
 */
export function newPublication(
  request: BackfillRequest,
  { commit, batchSize, runId }: { commit: GoldCommit; batchSize: number; runId?: string },
): Publication {
  const targetStores = targetStoreNames(dayTargets(request.publication, commit.dt));
  const record = newPublicationRecord(commit, {
    feature_group: request.featureGroup,
    feature_version: request.featureVersion,
    published_by: runId,
    published_with: 'api',
    target_stores: targetStores,
    batch_size: batchSize,
  });
  // These three first, as records have always been written; the spread keeps their place.
  return {
    published_with: 'api',
    record_order: 'interleaved',
    target_stores: targetStores,
    ...record,
    updated_at: '',
  } as Publication;
}

/**
 * The day's publication for this attempt: a new record, or the one to resume. A Spark publication
 * left `in_progress` (its job died) is not resumed batch by batch (its one batch is the whole day,
 * which the API does not take): the whole day is sent again in API batches, and since what the job
 * may have appended to the offline store cannot be taken back, its rows count as possible duplicates.
 */
export function openDay(
  lake: Lake,
  request: BackfillRequest,
  init: { state: DayState; action: 'send' | 'resume'; commit: GoldCommit; batchSize: number; runId?: string },
): DayPublication {
  const { state, action, commit, batchSize, runId } = init;
  const previous = action === 'resume' ? state.publication : undefined;
  const etag = state.etags?.publication;
  if (previous?.published_with !== 'spark')
    return new DayPublication(lake, request, { commit, previous, etag, batchSize, runId });
  const day = new DayPublication(lake, request, { commit, etag, batchSize, runId });
  day.pub.attempts = previous.attempts + 1;
  day.pub.possible_duplicates = previous.possible_duplicates + commit.rows;
  return day;
}
