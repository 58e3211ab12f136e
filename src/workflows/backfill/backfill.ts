/**
 * One run of a backfill: its state (request, chunk book, phase, pause, concurrency, lease) and the
 * operations on it, as in temporalio/samples-typescript's safe-message-handlers. The workflow
 * function (index.ts) only wires the handlers to it and records the outcome.
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackfillInput, BackfillRequest } from '../../common/input';
import { planChunks } from '../../common/plan';
import { ChunkBook, encodeStates, type ChunkPageRequest } from '../../common/chunk-book';
import { describeConflicts } from '../../common/lease';
import {
  summarizeChunk,
  type BackfillReport,
  type BackfillStatus,
  type ChunkResult,
  type ChunkSummary,
  type DryRunPlan,
} from '../../common/results';
import { MAX_CONCURRENT_CHUNKS_LIMIT, SEARCH_ATTRIBUTES, type BackfillPhase, type BackfillProgress } from '../api';
import { chunkWorkflow, PATCHES } from '../chunk';
import { chunkResultOf, refuseLateRetry, reportChunks } from '../chunk-outcomes';
import { recordBackfillFinished, recordChunkFinished } from '../metrics';
import { backfillDetails, chunkStaticDetails, chunkStaticSummary } from '../ui';
import { acceptRequest, inspectLake } from './accept-request';
import { BACKFILL_PATCHES, CHUNKS_PER_RUN, type BackfillCarry, type BackfillWorkflow } from './input';
import { releaseLease, takeLease } from './overlap-lease';
import { backfillPriority } from '../priority';

/** The setMaxConcurrentChunks update's validator: a whole number within the limit. */
export function checkMaxConcurrentChunks(value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > MAX_CONCURRENT_CHUNKS_LIMIT) {
    throw new Error(
      `maxConcurrentChunks must be a whole number from 1 to ${MAX_CONCURRENT_CHUNKS_LIMIT}, got ${value}`,
    );
  }
}

export class Backfill {
  // Carried over continue-as-new.
  private paused: boolean;
  private maxConcurrentChunks: number;
  private readonly startedAt: number;
  private readonly runs: number;
  /** The overlap lease is held (carried over; the last run releases it). */
  private leased: boolean;
  // This run's own.
  private chunks = new ChunkBook([]);
  private phase: BackfillPhase;
  private running = 0;
  private startedThisRun = 0;
  /** Continuing as new: the lease carries over, not released. */
  private continuing = false;
  /** Past the chunk phase: a chunk queued now would never run. */
  private chunksOver = false;
  /** While waiting for the overlap lease: the backfills in the way. */
  private waitingFor: string | undefined;
  /** Search attributes may be upserted (see the constructor). */
  private mayUpsert: boolean;
  /** The accepted request (carried, or once validation and preflight passed). */
  private known: BackfillRequest | undefined;
  /** The ledger's id of this backfill (gold locations and commits), once accepted. */
  private ledgerRunId: string | undefined;
  /** Chunks finished in this run and their time, for the ETA. */
  private readonly finishedTimes = { ms: 0, n: 0 };

  constructor(
    private readonly input: BackfillInput,
    private readonly carry: BackfillCarry | undefined,
  ) {
    this.paused = carry?.paused ?? false;
    this.maxConcurrentChunks = carry?.maxConcurrentChunks ?? 0;
    this.startedAt = carry?.startedAt ?? Date.now();
    this.runs = (carry?.runs ?? 0) + 1;
    this.leased = carry?.leased ?? false;
    this.phase = this.paused ? 'paused' : 'running';
    // No upsert before preflight has checked the namespace has our search attributes (a signal may
    // arrive first): on a namespace without them an upsert fails every workflow task, for ever.
    // (Histories from before the patch upserted at once.)
    this.mayUpsert = carry !== undefined || !patched(PATCHES.noUpsertBeforePreflight);
    this.known = carry?.request;
  }

  /** The request once accepted: what the outcome is recorded for (none if refused). */
  get request(): BackfillRequest | undefined {
    return this.known;
  }

  // Messages: the handlers in index.ts call these.

  progress(pageRequest?: ChunkPageRequest): BackfillProgress {
    return {
      workflowId: workflowInfo().workflowId,
      status: this.phase,
      paused: this.paused,
      maxConcurrentChunks: this.maxConcurrentChunks,
      totals: { ...this.chunks.totals(), running: this.running, pending: this.pending() },
      ...this.chunks.page(pageRequest),
      states: this.chunks.size ? encodeStates(this.chunks.states) : undefined,
      startedAt: this.startedAt,
      runs: this.runs,
      waitingFor: this.waitingFor,
    };
  }

  pause(): void {
    this.paused = true;
    if (this.phase === 'running') this.phase = 'paused';
    this.publish();
  }

  resume(): void {
    this.paused = false;
    if (this.phase === 'paused') this.phase = 'running';
    this.publish();
  }

  setMaxConcurrentChunks(value: number): number {
    this.maxConcurrentChunks = value;
    return this.maxConcurrentChunks;
  }

  /** The retryFailed update's validator: refused once nothing would run a chunk queued again. */
  checkRetryFailed(): void {
    refuseLateRetry(this.chunksOver || this.phase === 'cancelling', this.phase);
  }

  retryFailed(): string[] {
    const again = this.chunks.requeueFailed();
    this.showDetails();
    return again;
  }

  // The run: accept the request, take the lease, run the chunks, report.

  /** This run of the backfill, to its report; continuing as new ends it with ContinueAsNew. */
  async run(): Promise<BackfillReport> {
    const request = this.carry?.request ?? (await acceptRequest(this.input));
    this.accept(request);
    if (request.dryRun) {
      const plan = await inspectLake(request);
      return this.finish(request, 'dry_run', { ...plan, taskPriority: backfillPriority(request) });
    }
    try {
      // After the request is accepted, before any chunk: a first run takes the overlap lease
      // (histories from before the patch never did); later runs carry it over.
      if (!this.carry && patched(BACKFILL_PATCHES.overlapLease)) await this.takeLease(request);
      await this.runChunks(request);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      return await this.cancelled(request);
    } finally {
      // Every end but continue-as-new gives the days back: success, failure, cancel.
      if (this.leased && !this.continuing) await releaseLease(request);
    }
    return this.finish(request, this.endStatus());
  }

  /** How the chunks ended: all, none or some of them succeeded. */
  private endStatus(): BackfillStatus {
    const failed = this.chunks.size - this.chunks.count('succeeded');
    return failed === 0 ? 'succeeded' : failed === this.chunks.size ? 'failed' : 'partially_failed';
  }

  /** The request accepted: the plan, the ledger id and the search attributes that describe it. */
  private accept(request: BackfillRequest): void {
    this.known = request;
    this.mayUpsert = true;
    // The ledger's id of this backfill: the same across continue-as-new, and the ended run's own
    // when retry-failed resumes it, so its committed gold is kept, not rebuilt.
    this.ledgerRunId = request.resumeRunId ?? workflowInfo().firstExecutionRunId;
    this.chunks = bookOf(request, this.carry);
    if (!this.carry) this.maxConcurrentChunks ||= request.maxConcurrentChunks;
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.featureGroup, value: request.featureGroup },
      { key: SEARCH_ATTRIBUTES.featureVersion, value: request.featureVersion },
      { key: SEARCH_ATTRIBUTES.chunksTotal, value: this.chunks.size },
    ]);
    this.publish();
  }

  /** Takes the overlap lease, showing what it waits for while it waits. */
  private async takeLease(request: BackfillRequest): Promise<void> {
    await takeLease(request, (conflicts) => {
      this.waitingFor = describeConflicts(conflicts);
      this.phase = 'waiting';
      this.publish();
    });
    this.leased = true;
    this.waitingFor = undefined;
    this.phase = this.paused ? 'paused' : 'running';
    this.publish();
  }

  /**
   * Starts chunks oldest first, at most maxConcurrentChunks at a time and none while paused, until
   * every chunk has finished; or, after CHUNKS_PER_RUN, drains and continues as new.
   */
  private async runChunks(request: BackfillRequest): Promise<void> {
    for (;;) {
      await condition(() => this.drained() || this.mayStartChunk());
      this.chunksOver = this.running === 0 && this.pending() === 0;
      if (this.chunksOver) return;
      if (this.running === 0 && this.timeToContinueAsNew()) await this.continueAsNew(request);
      this.running += 1;
      this.startedThisRun += 1;
      void this.runChunk(request, this.chunks.nextPending()!);
    }
  }

  /** Nothing running, and nothing left to start or this run's share started. */
  private drained(): boolean {
    return this.running === 0 && (this.pending() === 0 || this.timeToContinueAsNew());
  }

  private mayStartChunk(): boolean {
    return !this.paused && this.running < this.maxConcurrentChunks && this.pending() > 0 && !this.timeToContinueAsNew();
  }

  private timeToContinueAsNew(): boolean {
    return this.startedThisRun >= CHUNKS_PER_RUN || workflowInfo().continueAsNewSuggested;
  }

  private pending(): number {
    return this.chunks.count('pending');
  }

  /** Drained: hands the state to a fresh run (handlers first, so no update is lost). */
  private async continueAsNew(request: BackfillRequest): Promise<never> {
    await condition(allHandlersFinished);
    this.continuing = true; // the lease carries over to the next run
    return continueAsNew<BackfillWorkflow>(this.input, {
      request,
      book: this.chunks.toCompact(),
      paused: this.paused,
      maxConcurrentChunks: this.maxConcurrentChunks,
      startedAt: this.startedAt,
      runs: this.runs,
      leased: this.leased,
    });
  }

  /** One chunk as a child workflow; a failed chunk is recorded, never thrown: the others go on. */
  private async runChunk(request: BackfillRequest, index: number): Promise<void> {
    const summary = this.chunks.start(index, Date.now());
    this.showDetails();
    let result: ChunkResult;
    try {
      result = await executeChild(chunkWorkflow, {
        args: [{ request, chunk: summary.chunk, runId: this.ledgerRunId }],
        workflowId: `${workflowInfo().workflowId}/chunk-${summary.chunk.id}`,
        staticSummary: chunkStaticSummary(summary.chunk),
        staticDetails: chunkStaticDetails(request, summary.chunk),
        // The chunk's workflow tasks and activities run at the backfill's priority (production first).
        priority: backfillPriority(request),
      });
    } catch (err) {
      result = chunkResultOf(summary, err);
    } finally {
      summary.finishedAt = Date.now();
      this.running -= 1;
    }
    // Only the summary is kept (folded into sums in a large backfill); the full result stays the child's.
    this.chunks.finish(index, summarizeChunk(result, summary));
    this.timeChunk(summary);
    recordChunkFinished(request, result.status);
    this.publish();
  }

  private timeChunk(summary: ChunkSummary): void {
    if (summary.startedAt === undefined || summary.finishedAt === undefined) return;
    this.finishedTimes.ms += summary.finishedAt - summary.startedAt;
    this.finishedTimes.n += 1;
  }

  /**
   * Cancelled: children are cancelled with us (EMR job runs through their activities); waits for
   * them to wind down, then reports what was done.
   */
  private async cancelled(request: BackfillRequest): Promise<BackfillReport> {
    this.phase = 'cancelling';
    this.publish();
    await CancellationScope.nonCancellable(() => condition(() => this.running === 0));
    return this.finish(request, 'cancelled');
  }

  /** The report, and the phase and metric that say the backfill ended. */
  private finish(request: BackfillRequest, status: BackfillStatus, dryRun?: DryRunPlan): BackfillReport {
    this.phase = status;
    this.publish();
    recordBackfillFinished(request, status);
    return {
      workflowId: workflowInfo().workflowId,
      runId: this.ledgerRunId,
      status,
      featureGroup: request.featureGroup,
      featureVersion: request.featureVersion,
      startDate: request.startDate,
      endDate: request.endDate,
      ...reportChunks(this.chunks),
      totals: this.chunks.totals(),
      startedAt: this.startedAt,
      finishedAt: Date.now(),
      dryRun,
    };
  }

  // What operators see: the Web UI's current details, and the search attributes with them.

  /** The Web UI's current details, kept up to date wherever the search attributes are. */
  private showDetails(): void {
    const t = this.chunks.totals();
    setCurrentDetails(
      backfillDetails({
        workflowId: workflowInfo().workflowId,
        request: this.known,
        phase: this.phase,
        maxConcurrentChunks: this.maxConcurrentChunks,
        waitingFor: this.waitingFor,
        counts: {
          total: this.chunks.size,
          succeeded: t.succeeded,
          failed: t.failed + t.cancelled,
          running: this.running,
          pending: this.pending(),
        },
        totals: { rows: t.rowsWritten, records: t.recordsIngested, deadLettered: t.failedRecords },
        failedChunks: this.chunks.listed().chunks.filter((c) => c.status === 'failed' || c.status === 'cancelled'),
        meanChunkMs: this.finishedTimes.n ? this.finishedTimes.ms / this.finishedTimes.n : undefined,
      }),
    );
  }

  private publish(): void {
    this.showDetails();
    if (!this.mayUpsert) return;
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.status, value: this.phase },
      { key: SEARCH_ATTRIBUTES.chunksDone, value: this.chunks.count('succeeded') },
    ]);
  }
}

/** The plan's chunks: fresh, from a compact carry, or from a carry from before it (every summary). */
function bookOf(request: BackfillRequest, carry: BackfillCarry | undefined): ChunkBook {
  if (carry?.chunks) return ChunkBook.fromLegacy({ chunks: carry.chunks });
  const plan = planChunks(request.startDate, request.endDate, request.chunkSizeDays).filter(
    (c) => !request.onlyChunks || request.onlyChunks.includes(c.id),
  );
  return new ChunkBook(plan, carry?.book);
}
