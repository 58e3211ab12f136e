/**
 * The chunk's steps: Spark job, catalog refresh, feature store ingestion, validation. The result
 * and which steps are running live in one ChunkSteps object; a failed step fails the chunk with
 * the step named and what the chunk did get done as the failure's details.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackfillActivities } from '../../activities';
import type { CheckedChunkInput } from '../../common/chunk-input';
import type { ChunkResult, SparkJobResult } from '../../common/results';
import { rootMessage } from '../../common/errors';
import { FAILURE } from '../../common/failures';
import { recordIngest, recordSpark, recordStep } from '../metrics';
import { activitySummary, chunkDetails } from '../ui';
import { PATCHES } from './input';
import { startedPriority } from '../priority';

const spark = proxyActivities<BackfillActivities>({
  // Backfill Spark jobs can run for hours; the heartbeat (every poll) is what detects a lost worker.
  startToCloseTimeout: '12 hours',
  // A bound over all attempts: lost workers and deploys are not counted as failures, so without it 20
  // attempts of up to 12 hours each could run on; a day and a half covers one long run and many deploys.
  scheduleToCloseTimeout: '36 hours',
  heartbeatTimeout: '30 seconds',
  // On cancel, wait until the activity has cancelled the job run, so nothing keeps writing.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    // The activity gives up itself after 3 real failures (activities/spark/attempts.ts); attempts ended
    // by a worker shutdown (a deploy: the run goes on) are not counted there, so the server allows many.
    maximumAttempts: 20,
    initialInterval: '30 seconds',
    backoffCoefficient: 2,
    // Keeps the wait after several deploys in a row short: the run goes on meanwhile.
    maximumInterval: '5 minutes',
    // BadBronzeInput: a bronze file the job cannot read stays unreadable; each retry would waste a job run.
    nonRetryableErrorTypes: [FAILURE.invalidInput, FAILURE.missingManifest, FAILURE.badBronzeInput],
  },
});

const catalog = proxyActivities<BackfillActivities>({
  // A crawler run takes minutes; waiting behind another run can double that.
  startToCloseTimeout: '1 hour',
  // The activity heartbeats while it waits on the crawler: a lost worker shows within a minute.
  heartbeatTimeout: '1 minute',
  // Catalog refresh is idempotent: retry for a while through throttling and busy crawlers.
  retry: { maximumAttempts: 6, initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

const catalogAfterCancel = proxyActivities<BackfillActivities>({
  // The refresh of a cancelled chunk holds the cancel (and the backfill's lease) while it runs: bounded
  // to minutes, not the hours a normal refresh may retry for; if it gives up, the next run refreshes.
  startToCloseTimeout: '10 minutes',
  scheduleToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 2, initialInterval: '10 seconds' },
});

const ingest = proxyActivities<BackfillActivities>({
  startToCloseTimeout: '12 hours',
  // Heartbeats carry the checkpoint; a lost worker is noticed within 30 s and the retry resumes.
  heartbeatTimeout: '30 seconds',
  // On cancel, let the attempt stop between batches and record where it got to.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  // Each retry resumes after the last batch the ledger has as acknowledged, so retrying is cheap and safe.
  retry: { maximumAttempts: 10, initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes' },
});

const checks = proxyActivities<BackfillActivities>({
  startToCloseTimeout: '30 minutes',
  // Validation only reads; a few retries cover storage hiccups.
  retry: { maximumAttempts: 3, initialInterval: '5 seconds' },
});

type StepOutcome = 'ok' | 'failed' | 'cancelled';

/** One chunk's steps and what they got done; the chunk workflow calls them in order. */
export class ChunkSteps {
  readonly result: ChunkResult;
  /** Which steps are done and running, for the Web UI (catalog and ingest run side by side). */
  private readonly steps = { done: [] as string[], running: [] as string[] };
  /** The Spark activity's own failure (the step's failure wraps it): bisecting needs its type. */
  sparkFailure: unknown;
  /** What the chunk was started with, set on each activity so its history shows it. */
  private readonly priority = startedPriority();
  /** Whether the Spark step started: from then on the job may have committed gold. */
  private sparkStarted = false;
  /** Set when the chunk runs day by day instead: each day's child refreshes its own day. */
  bisected = false;

  constructor(private readonly input: CheckedChunkInput) {
    this.result = { chunk: input.chunk, status: 'running' };
  }

  /** The Web UI's current details: which step the chunk is in. */
  private show(): void {
    setCurrentDetails(chunkDetails(this.input.chunk, { ...this.steps, failed: this.result.error }));
  }

  /** Runs one step: shown, logged and measured; a failure fails the chunk, naming the step. */
  private async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    const { request, chunk } = this.input;
    this.steps.running.push(name);
    this.show();
    // One searchable line per step start and end (the SDK's logger adds the workflow id; none on replay).
    log.info('chunk step started', { chunk: chunk.id, step: name });
    const started = Date.now();
    let outcome: StepOutcome = 'failed';
    try {
      const value = await run();
      this.steps.done.push(name);
      outcome = 'ok';
      return value;
    } catch (err) {
      if (isCancellation(err)) {
        outcome = 'cancelled';
        this.result.status = 'cancelled';
        throw err; // the chunk ends Cancelled, as asked
      }
      throw this.failedAt(name, err);
    } finally {
      this.steps.running.splice(this.steps.running.indexOf(name), 1);
      this.show();
      const durationSeconds = (Date.now() - started) / 1000;
      recordStep(request, name, outcome, durationSeconds);
      log.info('chunk step ended', { chunk: chunk.id, step: name, outcome, durationSeconds });
    }
  }

  /** The chunk's failure at a step: the result travels as details so the parent can report what was done. */
  private failedAt(name: string, err: unknown): ApplicationFailure {
    this.result.status = 'failed';
    // With catalog and ingest side by side, the first failure is the one reported.
    this.result.error ??= { step: name, message: rootMessage(err) };
    return ApplicationFailure.nonRetryable(
      `chunk ${this.input.chunk.id} failed at ${name}: ${this.result.error.message}`,
      FAILURE.chunkFailed,
      this.result,
    );
  }

  /** The Spark job; on failure, `sparkFailure` holds the activity's own failure. */
  async spark(): Promise<SparkJobResult> {
    const { request, chunk, runId } = this.input;
    this.sparkStarted = true;
    const result = await this.step('spark', () =>
      spark.runSparkJob
        .executeWithOptions({ summary: activitySummary.spark(request, chunk), priority: this.priority }, [
          { request, chunk, runName: workflowInfo().workflowId, runId },
        ])
        .catch((err: unknown) => {
          this.sparkFailure = err;
          throw err;
        }),
    );
    this.result.spark = result;
    recordSpark(request, result);
    return result;
  }

  /** Catalog refresh and ingestion, which both only need the job's output. */
  async catalogAndIngest(): Promise<void> {
    let settled: PromiseSettledResult<unknown>[];
    if (patched(PATCHES.parallelCatalogAndIngest)) {
      // Refresh the catalog (minutes, for a crawler) while ingesting. Both settle before the
      // chunk fails, so a failed refresh never cuts an ingest off.
      settled = await Promise.allSettled([this.refresh(), this.ingest()]);
    } else {
      // Histories recorded before the patch ran the two one after the other.
      settled = await Promise.allSettled([this.refresh()]);
      if (settled[0].status === 'fulfilled') settled = await Promise.allSettled([this.ingest()]);
    }
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
  }

  private async refresh(): Promise<void> {
    this.result.catalog = await this.step('catalog', () => this.refreshCatalog(catalog));
  }

  /** The catalog activity for this chunk, through `proxy`; `prune` as RefreshCatalogInput's. */
  private refreshCatalog(proxy: typeof catalog, prune?: false) {
    const { request, chunk } = this.input;
    return proxy.refreshCatalog.executeWithOptions(
      { summary: activitySummary.catalog(request, chunk), priority: this.priority },
      [{ request, chunk, ...(prune === false ? { prune } : {}) }],
    );
  }

  /**
   * After a cancel that came once the Spark step had started, whose catalog refresh did not finish:
   * the job may have committed gold before it stopped, and readers would not see that day until the
   * chunk's next run. The refresh (idempotent: it serves the ledger's current gold) runs to its end
   * even though the chunk is cancelled, within minutes; if it fails, the chunk still ends Cancelled.
   */
  async refreshAfterCancel(): Promise<void> {
    if (!this.sparkStarted || this.bisected || this.steps.done.includes('catalog')) return;
    try {
      // No pruning: a Spark run the cancel did not stop may still write its run directory.
      this.result.catalog = await CancellationScope.nonCancellable(() =>
        this.refreshCatalog(catalogAfterCancel, false),
      );
    } catch (err) {
      log.warn('catalog refresh after a cancel failed', { chunk: this.input.chunk.id, error: rootMessage(err) });
    }
  }

  private async ingest(): Promise<void> {
    const { request, chunk, runId } = this.input;
    const r = await this.step('ingest', () =>
      ingest.ingestFeatures.executeWithOptions(
        { summary: activitySummary.ingest(request, chunk), priority: this.priority },
        [{ request, chunk, runId }],
      ),
    );
    this.result.ingest = r;
    recordIngest(request, r);
  }

  /** The chunk's checks of what it wrote; failed checks fail the chunk, naming them. */
  async validate(sparkResult: SparkJobResult): Promise<ChunkResult> {
    const { request, chunk } = this.input;
    const validation = await this.step('validate', () =>
      checks.validateChunk.executeWithOptions({ summary: activitySummary.validate(chunk), priority: this.priority }, [
        { request, chunk, spark: sparkResult },
      ]),
    );
    this.result.validation = validation;
    if (!validation.ok) {
      const failed = validation.checks.filter((c) => !c.ok && c.severity === 'error');
      this.result.status = 'failed';
      this.result.error = { step: 'validate', message: failed.map((c) => `${c.name}: ${c.detail}`).join('; ') };
      this.show();
      throw ApplicationFailure.nonRetryable(
        `chunk ${chunk.id} failed validation: ${this.result.error.message}`,
        FAILURE.chunkFailed,
        this.result,
      );
    }
    this.result.status = 'succeeded';
    return this.result;
  }
}
