/**
 * One chunk of a backfill, its own unit of retry and visibility: Spark job, catalog refresh,
 * feature store ingestion, validation. A failed step fails the chunk with the step named.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackfillActivities } from '../activities';
import type { BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';
import type { ChunkResult } from '../common/results';
import { rootMessage } from '../common/errors';
import { FAILURE } from '../common/failures';
import { bisectChunk, isDataFailure } from './bisect';
import { acceptChunkInput, needsWorkerCheck, refuse } from './accept';
import { recordIngest, recordSpark, recordStep } from './metrics';
import { activitySummary, chunkDetails } from './ui';

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
    // The activity gives up itself after 3 real failures (activities/spark-attempts.ts); attempts ended
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

const ingest = proxyActivities<BackfillActivities>({
  startToCloseTimeout: '12 hours',
  // Heartbeats carry the checkpoint; a lost worker is noticed within 30 s and the retry resumes.
  heartbeatTimeout: '30 seconds',
  // On cancel, let the attempt stop between batches and record where it got to.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  // Each retry resumes after the last batch the ledger has as acknowledged, so retrying is cheap and safe.
  retry: { maximumAttempts: 10, initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes' },
});

const guard = proxyActivities<BackfillActivities>({
  // Pure checks against the worker's settings: quick, or the worker is gone.
  startToCloseTimeout: '1 minute',
  // A refusal is non-retryable (InvalidInput); only a lost worker or a server hiccup is retried.
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});

const checks = proxyActivities<BackfillActivities>({
  startToCloseTimeout: '30 minutes',
  // Validation only reads; a few retries cover storage hiccups.
  retry: { maximumAttempts: 3, initialInterval: '5 seconds' },
});

/**
 * Changes of workflow code that running histories must not see, each guarded with patched().
 * Remove a patch only once no history that predates it can still be running or replayed.
 */
export const PATCHES = {
  /** 2026-11: catalog refresh and ingestion run side by side instead of one after the other. */
  parallelCatalogAndIngest: 'parallel-catalog-and-ingest',
  /** 2026-11: the backfill upserts no search attribute before preflight has checked the namespace has them. */
  noUpsertBeforePreflight: 'no-upsert-before-preflight',
  /** 2026-11: a chunk of several days whose Spark job failed on its data is run again day by day (bisect.ts). */
  bisectDataFailures: 'bisect-data-failures',
  /** 2026-12: the chunk checks its input (request, chunk, run id) before any activity (issue 21). */
  validateChunkInput: 'validate-chunk-input',
} as const;

export interface ChunkWorkflowInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** The backfill run (ledger id) whose gold this chunk writes; see RunSparkJobInput.runId. */
  runId?: string;
}

export async function chunkWorkflow(input: ChunkWorkflowInput): Promise<ChunkResult> {
  // Histories from before the patch ran their input unchecked.
  const checked = patched(PATCHES.validateChunkInput);
  const { request, chunk, runId } = checked ? acceptChunkInput(input) : input;
  // The worker's rules (sparkConf, job role), which the workflow cannot read, before any step.
  if (checked && needsWorkerCheck(request)) await guard.checkRequest(request).catch(refuse);
  const result: ChunkResult = { chunk, status: 'running' };
  // The Web UI's current details: which step the chunk is in (catalog and ingest run side by side).
  const steps = { done: [] as string[], running: [] as string[] };
  const show = () => setCurrentDetails(chunkDetails(chunk, { ...steps, failed: result.error }));
  const step = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    steps.running.push(name);
    show();
    // One searchable line per step start and end (the SDK's logger adds the workflow id; none on replay).
    log.info('chunk step started', { chunk: chunk.id, step: name });
    const started = Date.now();
    let outcome: 'ok' | 'failed' | 'cancelled' = 'failed';
    try {
      const value = await run();
      steps.done.push(name);
      outcome = 'ok';
      return value;
    } catch (err) {
      if (isCancellation(err)) {
        outcome = 'cancelled';
        result.status = 'cancelled';
        throw err; // the chunk ends Cancelled, as asked
      }
      result.status = 'failed';
      // With catalog and ingest side by side, the first failure is the one reported.
      result.error ??= { step: name, message: rootMessage(err) };
      // The result travels as details so the parent can report what this chunk did get done.
      throw ApplicationFailure.nonRetryable(
        `chunk ${chunk.id} failed at ${name}: ${result.error.message}`,
        FAILURE.chunkFailed,
        result,
      );
    } finally {
      steps.running.splice(steps.running.indexOf(name), 1);
      show();
      const durationSeconds = (Date.now() - started) / 1000;
      recordStep(request, name, outcome, durationSeconds);
      log.info('chunk step ended', { chunk: chunk.id, step: name, outcome, durationSeconds });
    }
  };

  let sparkFailure: unknown;
  try {
    result.spark = await step('spark', () =>
      spark.runSparkJob
        .executeWithOptions({ summary: activitySummary.spark(request, chunk) }, [
          { request, chunk, runName: workflowInfo().workflowId, runId },
        ])
        .catch((err: unknown) => {
          sparkFailure = err; // the step's own failure wraps it; bisecting needs its type
          throw err;
        }),
    );
  } catch (err) {
    // Only the data-failure path asks for the patch: histories that never took it replay as before.
    if (chunk.days > 1 && isDataFailure(sparkFailure) && patched(PATCHES.bisectDataFailures)) {
      log.warn('data failure: running the chunk day by day', { chunk: chunk.id, error: rootMessage(sparkFailure) });
      return bisectChunk({ request, chunk, runId, failure: sparkFailure });
    }
    throw err;
  }
  const sparkResult = result.spark;
  recordSpark(request, sparkResult);
  const refresh = () =>
    step('catalog', () =>
      catalog.refreshCatalog.executeWithOptions({ summary: activitySummary.catalog(request, chunk) }, [
        { request, chunk },
      ]),
    ).then((r) => (result.catalog = r));
  const publish = () =>
    step('ingest', () =>
      ingest.ingestFeatures.executeWithOptions({ summary: activitySummary.ingest(request, chunk) }, [
        { request, chunk, runId },
      ]),
    ).then((r) => {
      result.ingest = r;
      recordIngest(request, r);
    });
  let settled: PromiseSettledResult<unknown>[];
  if (patched(PATCHES.parallelCatalogAndIngest)) {
    // Both only need the job's output: refresh the catalog (minutes, for a crawler) while
    // ingesting. Both settle before the chunk fails, so a failed refresh never cuts an ingest off.
    settled = await Promise.allSettled([refresh(), publish()]);
  } else {
    // Histories recorded before the patch ran the two one after the other.
    settled = await Promise.allSettled([refresh()]);
    if (settled[0].status === 'fulfilled') settled = await Promise.allSettled([publish()]);
  }
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  result.validation = await step('validate', () =>
    checks.validateChunk.executeWithOptions({ summary: activitySummary.validate(chunk) }, [
      { request, chunk, spark: sparkResult },
    ]),
  );
  if (!result.validation.ok) {
    const failed = result.validation.checks.filter((c) => !c.ok && c.severity === 'error');
    result.status = 'failed';
    result.error = { step: 'validate', message: failed.map((c) => `${c.name}: ${c.detail}`).join('; ') };
    show();
    throw ApplicationFailure.nonRetryable(
      `chunk ${chunk.id} failed validation: ${result.error.message}`,
      FAILURE.chunkFailed,
      result,
    );
  }
  result.status = 'succeeded';
  return result;
}
