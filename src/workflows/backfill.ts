/**
 * The backfill: validate the request, plan chunks, run them as child workflows oldest first with
 * at most maxConcurrentChunks in flight, and report. A failed chunk does not stop the others.
 * Operators pause, resume, change concurrency, retry failed chunks and cancel while it runs.
 * Long ranges continue-as-new, carrying compact chunk state (chunk-book.ts), so each run's history
 * and every payload stay small at any range.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { BackfillActivities } from '../activities';
import type { BackfillOutcome } from '../activities/backends';
import type { LeaseActivities } from '../activities/ledger';
import { InputError, validateInput, WORKER_DECIDES, type BackfillInput, type BackfillRequest } from '../common/input';
import { planChunks } from '../common/plan';
import { planPublication, type PublicationFacts } from '../common/publication-plan';
import {
  summarizeChunk,
  type BackfillReport,
  type BackfillStatus,
  type ChunkResult,
  type ChunkSummary,
} from '../common/results';
import { ChunkBook, encodeStates, type CompactChunks } from '../common/chunk-book';
import {
  MAX_CONCURRENT_CHUNKS_LIMIT,
  pauseSignal,
  progressQuery,
  resumeSignal,
  retryFailedUpdate,
  SEARCH_ATTRIBUTES,
  setMaxConcurrentChunksUpdate,
  type BackfillPhase,
} from './api';
import { rootMessage } from '../common/errors';
import { FAILURE } from '../common/failures';
import { chunkWorkflow, PATCHES } from './chunk';
import { refuseForgedCarry } from './accept';
import { chunkResultOf, refuseLateRetry, reportChunks } from './chunk-outcomes';
import { describeConflicts, formatDays, type LeaseConflict } from '../common/lease';
import { recordBackfillFinished, recordChunkFinished } from './metrics';
import { activitySummary, backfillDetails, chunkStaticDetails, chunkStaticSummary } from './ui';

const setup = proxyActivities<BackfillActivities>({
  startToCloseTimeout: '5 minutes',
  // Preflight and dry-run inspection only read; retry briefly, and never retry a bad request.
  retry: { maximumAttempts: 3, initialInterval: '2 seconds', nonRetryableErrorTypes: [FAILURE.invalidInput] },
});

const lease = proxyActivities<LeaseActivities>({
  // One waiting acquire waits at most a slice (10 minutes by default), then the workflow asks again.
  startToCloseTimeout: '20 minutes',
  // A waiting acquire heartbeats at every look: a lost worker shows within a minute.
  heartbeatTimeout: '1 minute',
  // Acquire and release are idempotent per holder: retry through server and worker hiccups.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

const outcomes = proxyActivities<BackfillActivities>({
  // One metric data point: quick, or the service is down.
  startToCloseTimeout: '1 minute',
  // Retry a short outage; after that the backfill ends without its data point (alarm on missing data).
  retry: { maximumAttempts: 5, initialInterval: '5 seconds', backoffCoefficient: 2 },
});

/** Changes of this workflow's code that older histories must not see (as PATCHES in chunk.ts). */
export const BACKFILL_PATCHES = {
  /** 2026-11: a backfill holds an overlap lease on its days while it runs (issue 10). */
  overlapLease: 'overlap-lease',
  /** 2026-11: a backfill's end is recorded for alarms (BackfillPipelineSuccess on AWS, issue 12). */
  outcomeMetric: 'outcome-metric',
  /** 2026-11: the request carries the publication plan (target stores and publisher per day, issue 13). */
  targetStores: 'target-stores',
} as const;

/** Chunks started per run before continuing as new: ~10 history events each keeps a run far below 10k. */
export const CHUNKS_PER_RUN = 300;

/** What one run hands the next when it continues as new. */
export interface BackfillCarry {
  request: BackfillRequest;
  /** Compact chunk state; the plan is recomputed from the request. */
  book?: CompactChunks;
  /** Carries from before the compact state: every chunk's summary. Read, never written. */
  chunks?: ChunkSummary[];
  paused: boolean;
  maxConcurrentChunks: number;
  startedAt: number;
  runs: number;
  /** The overlap lease is held: it carries over, and the last run releases it. */
  leased?: boolean;
}

export async function backfillWorkflow(input: BackfillInput, carry?: BackfillCarry): Promise<BackfillReport> {
  refuseForgedCarry(carry);
  const { workflowId } = workflowInfo();
  const seen: { request?: BackfillRequest } = { request: carry?.request };
  let report: BackfillReport;
  try {
    report = await runBackfill(input, carry, seen);
  } catch (err) {
    // Continuing as new is no end, and a request refused at validation or preflight never ran;
    // any other failure (a refused overlap, an outage) is a backfill that did not succeed.
    if (!(err instanceof ContinueAsNew) && seen.request) {
      const { featureGroup, featureVersion } = seen.request;
      await recordOutcome({
        workflowId,
        featureGroup,
        featureVersion,
        status: isCancellation(err) ? 'cancelled' : 'failed',
        success: 0,
      });
    }
    throw err;
  }
  if (report.status !== 'dry_run') {
    const { featureGroup, featureVersion, status } = report;
    await recordOutcome({ workflowId, featureGroup, featureVersion, status, success: status === 'succeeded' ? 1 : 0 });
  }
  return report;
}

/** Records how the backfill ended (even when cancelled); a failure to record only logs: the backfill's own outcome stands. */
async function recordOutcome(outcome: BackfillOutcome): Promise<void> {
  if (!patched(BACKFILL_PATCHES.outcomeMetric)) return; // histories from before the patch ended without it
  try {
    await CancellationScope.nonCancellable(() =>
      outcomes.recordBackfillOutcome.executeWithOptions(
        { summary: `record the outcome: ${outcome.status} (success ${outcome.success})` },
        [outcome],
      ),
    );
  } catch (err) {
    log.warn('could not record the backfill outcome for alarms', { error: rootMessage(err) });
  }
}

/** The backfill itself; `seen.request` is set once the request is accepted. */
async function runBackfill(
  input: BackfillInput,
  carry: BackfillCarry | undefined,
  seen: { request?: BackfillRequest },
): Promise<BackfillReport> {
  // Handlers first, so a query or signal that arrives during validation is answered, not lost.
  let chunks = new ChunkBook([]);
  let paused = carry?.paused ?? false;
  let maxConcurrentChunks = carry?.maxConcurrentChunks ?? 0;
  const startedAt = carry?.startedAt ?? Date.now();
  const runs = (carry?.runs ?? 0) + 1;
  let phase: BackfillPhase = paused ? 'paused' : 'running';
  let running = 0;
  let startedThisRun = 0;
  let leased = carry?.leased ?? false;
  let continuing = false;
  let waitingFor: string | undefined;

  const pending = () => chunks.count('pending');
  // No upsert before preflight has checked the namespace has our search attributes (a signal may
  // arrive first): on a namespace without them an upsert fails every workflow task, for ever.
  // (Histories from before the patch upserted at once.)
  let accepted = carry !== undefined || !patched(PATCHES.noUpsertBeforePreflight);
  let known: BackfillRequest | undefined = carry?.request; // for the details, once accepted
  // The Web UI's current details, kept up to date wherever the search attributes are.
  const finishedTimes = { ms: 0, n: 0 }; // chunks finished in this run, for the ETA
  const showDetails = () => {
    const t = chunks.totals();
    setCurrentDetails(
      backfillDetails({
        workflowId: workflowInfo().workflowId,
        request: known,
        phase,
        maxConcurrentChunks,
        waitingFor,
        counts: {
          total: chunks.size,
          succeeded: t.succeeded,
          failed: t.failed + t.cancelled,
          running,
          pending: pending(),
        },
        totals: { rows: t.rowsWritten, records: t.recordsIngested, deadLettered: t.failedRecords },
        failedChunks: chunks.listed().chunks.filter((c) => c.status === 'failed' || c.status === 'cancelled'),
        meanChunkMs: finishedTimes.n ? finishedTimes.ms / finishedTimes.n : undefined,
      }),
    );
  };
  const publish = () => {
    showDetails();
    if (!accepted) return;
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.status, value: phase },
      { key: SEARCH_ATTRIBUTES.chunksDone, value: chunks.count('succeeded') },
    ]);
  };

  setHandler(progressQuery, (pageRequest) => ({
    workflowId: workflowInfo().workflowId,
    status: phase,
    paused,
    maxConcurrentChunks,
    totals: { ...chunks.totals(), running, pending: pending() },
    ...chunks.page(pageRequest),
    states: chunks.size ? encodeStates(chunks.states) : undefined,
    startedAt,
    runs,
    waitingFor,
  }));
  setHandler(pauseSignal, () => {
    paused = true;
    if (phase === 'running') phase = 'paused';
    publish();
  });
  setHandler(resumeSignal, () => {
    paused = false;
    if (phase === 'paused') phase = 'running';
    publish();
  });
  setHandler(
    setMaxConcurrentChunksUpdate,
    (value) => {
      maxConcurrentChunks = value;
      return maxConcurrentChunks;
    },
    {
      validator: (value) => {
        if (!Number.isInteger(value) || value < 1 || value > MAX_CONCURRENT_CHUNKS_LIMIT) {
          throw new Error(
            `maxConcurrentChunks must be a whole number from 1 to ${MAX_CONCURRENT_CHUNKS_LIMIT}, got ${value}`,
          );
        }
      },
    },
  );
  let chunksOver = false; // past the chunk phase: a chunk queued now would never run
  setHandler(
    retryFailedUpdate,
    () => {
      const again = chunks.requeueFailed();
      showDetails();
      return again;
    },
    { validator: () => refuseLateRetry(chunksOver || phase === 'cancelling', phase) },
  );

  const request = carry?.request ?? (await acceptRequest(input));
  known = request;
  seen.request = request;
  accepted = true;
  // The ledger's id of this backfill (gold locations and commits): the same across continue-as-new,
  // and the ended run's own when retry-failed resumes it, so its committed gold is kept, not rebuilt.
  const ledgerRunId = request.resumeRunId ?? workflowInfo().firstExecutionRunId;
  chunks = bookOf(request, carry);
  if (!carry) maxConcurrentChunks ||= request.maxConcurrentChunks;

  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.featureGroup, value: request.featureGroup },
    { key: SEARCH_ATTRIBUTES.featureVersion, value: request.featureVersion },
    { key: SEARCH_ATTRIBUTES.chunksTotal, value: chunks.size },
  ]);
  publish();

  if (request.dryRun) {
    const dryRun = await setup.inspectLake.executeWithOptions({ summary: activitySummary.inspectLake(request) }, [
      request,
    ]);
    return finish('dry_run', dryRun);
  }

  const runChunk = async (index: number): Promise<void> => {
    const summary = chunks.start(index, Date.now());
    showDetails();
    let result: ChunkResult;
    try {
      result = await executeChild(chunkWorkflow, {
        args: [{ request, chunk: summary.chunk, runId: ledgerRunId }],
        workflowId: `${workflowInfo().workflowId}/chunk-${summary.chunk.id}`,
        staticSummary: chunkStaticSummary(summary.chunk),
        staticDetails: chunkStaticDetails(request, summary.chunk),
      });
    } catch (err) {
      result = chunkResultOf(summary, err);
    } finally {
      summary.finishedAt = Date.now();
      running -= 1;
    }
    // Only the summary is kept (folded into sums in a large backfill); the full result stays the child's.
    chunks.finish(index, summarizeChunk(result, summary));
    if (summary.startedAt !== undefined && summary.finishedAt !== undefined) {
      finishedTimes.ms += summary.finishedAt - summary.startedAt;
      finishedTimes.n += 1;
    }
    recordChunkFinished(request, result.status);
    publish();
  };

  const timeToContinueAsNew = () => startedThisRun >= CHUNKS_PER_RUN || workflowInfo().continueAsNewSuggested;
  try {
    // After the request is accepted, before any chunk: a first run takes the overlap lease
    // (histories from before the patch never did); later runs carry it over.
    if (!carry && patched(BACKFILL_PATCHES.overlapLease)) {
      await takeLease(request, (conflicts) => {
        waitingFor = describeConflicts(conflicts);
        phase = 'waiting';
        publish();
      });
      leased = true;
      waitingFor = undefined;
      phase = paused ? 'paused' : 'running';
      publish();
    }
    for (;;) {
      await condition(
        () =>
          (running === 0 && (pending() === 0 || timeToContinueAsNew())) ||
          (!paused && running < maxConcurrentChunks && pending() > 0 && !timeToContinueAsNew()),
      );
      chunksOver = running === 0 && pending() === 0;
      if (chunksOver) break;
      if (running === 0 && timeToContinueAsNew()) {
        // Drained: hand the state to a fresh run (handlers first, so no update is lost).
        await condition(allHandlersFinished);
        continuing = true; // the lease carries over to the next run
        await continueAsNew<typeof backfillWorkflow>(input, {
          request,
          book: chunks.toCompact(),
          paused,
          maxConcurrentChunks,
          startedAt,
          runs,
          leased,
        });
      }
      running += 1;
      startedThisRun += 1;
      void runChunk(chunks.nextPending()!);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: children are cancelled with us (EMR job runs through their activities);
    // wait for them to wind down, then report what was done.
    phase = 'cancelling';
    publish();
    await CancellationScope.nonCancellable(() => condition(() => running === 0));
    return finish('cancelled');
  } finally {
    // Every end but continue-as-new gives the days back: success, failure, cancel.
    if (leased && !continuing) await releaseLease(request);
  }
  const failed = chunks.size - chunks.count('succeeded');
  return finish(failed === 0 ? 'succeeded' : failed === chunks.size ? 'failed' : 'partially_failed');

  function finish(status: BackfillStatus, dryRun?: BackfillReport['dryRun']): BackfillReport {
    phase = status;
    publish();
    recordBackfillFinished(request, status);
    return {
      workflowId: workflowInfo().workflowId,
      runId: ledgerRunId,
      status,
      featureGroup: request.featureGroup,
      featureVersion: request.featureVersion,
      startDate: request.startDate,
      endDate: request.endDate,
      ...reportChunks(chunks),
      totals: chunks.totals(),
      startedAt,
      finishedAt: Date.now(),
      dryRun,
    };
  }
}

/**
 * Takes the overlap lease on the request's days. Refused (non-retryable, naming the backfills in
 * the way and the shared days) unless the request asks to wait; then waits, calling onWait.
 */
async function takeLease(request: BackfillRequest, onWait: (conflicts: LeaseConflict[]) => void): Promise<void> {
  const { workflowId, firstExecutionRunId } = workflowInfo();
  const ask = (wait: boolean) =>
    lease.acquireLease.executeWithOptions({ summary: activitySummary.lease(wait ? 'wait for' : 'take', request) }, [
      {
        holder: workflowId,
        runId: firstExecutionRunId,
        featureGroup: request.featureGroup,
        featureVersion: request.featureVersion,
        startDate: request.startDate,
        endDate: request.endDate,
        wait,
        // The lease covers (lake, version), what writers share (src/activities/lease-key.ts).
        lake: request.bucket,
        sparkApplication: request.emr?.appId,
      },
    ]);
  let answer = await ask(false);
  while (!answer.granted) {
    if (!request.waitForOverlap) {
      const days = answer.conflicts.map((c) => formatDays(c.shared)).join(', ');
      throw ApplicationFailure.nonRetryable(
        `days ${days} of ${request.featureGroup} ${request.featureVersion} are being backfilled by ${describeConflicts(answer.conflicts)}: ` +
          `wait for it to finish or cancel it, or start this backfill with --wait-for-overlap (waitForOverlap: true) to queue behind it`,
        FAILURE.backfillOverlap,
        { conflicts: answer.conflicts },
      );
    }
    onWait(answer.conflicts);
    answer = await ask(true);
  }
}

/** Gives the lease back, even when cancelled; a failure only leaves a stale hold, which the next acquire clears. */
async function releaseLease(request: BackfillRequest): Promise<void> {
  const { workflowId, firstExecutionRunId } = workflowInfo();
  try {
    await CancellationScope.nonCancellable(() =>
      lease.releaseLease.executeWithOptions({ summary: activitySummary.lease('release', request) }, [
        {
          holder: workflowId,
          runId: firstExecutionRunId,
          featureGroup: request.featureGroup,
          featureVersion: request.featureVersion,
          lake: request.bucket,
        },
      ]),
    );
  } catch (err) {
    log.warn('could not release the overlap lease; the next backfill that needs these days frees it', {
      error: rootMessage(err),
    });
  }
}

/** Validation and the backend's preflight; a bad request fails here, before any work. */
async function acceptRequest(input: BackfillInput): Promise<BackfillRequest> {
  let request: BackfillRequest;
  try {
    // Restricted sparkConf keys are decided by the preflight activity, which reads the worker's settings.
    request = validateInput(input, { now: Date.now(), allowSparkConf: WORKER_DECIDES });
  } catch (err) {
    // Bad input is final: no retry can fix it.
    if (err instanceof InputError)
      throw ApplicationFailure.nonRetryable(err.message, FAILURE.invalidInput, { field: err.field });
    throw err;
  }
  let checked: Awaited<ReturnType<BackfillActivities['preflight']>>;
  try {
    checked = await setup.preflight.executeWithOptions({ summary: activitySummary.preflight(request) }, [request]);
  } catch (err) {
    // The backend's verdict on the request becomes the workflow's own failure; anything else
    // (an outage outlasting the retries) fails the workflow as what it is.
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    if (
      cause instanceof ApplicationFailure &&
      (cause.type === FAILURE.invalidInput || cause.type === FAILURE.awsAccessDenied)
    ) {
      throw ApplicationFailure.nonRetryable(rootMessage(err), FAILURE.invalidInput);
    }
    throw err;
  }
  // The job code is fixed once per backfill: chunks keep it while a new version is deployed.
  const resolved = checked.jobCodeKey ? { ...request, jobCodeKey: checked.jobCodeKey } : request;
  return withPublicationPlan(resolved, checked.publication);
}

/**
 * The request with its publication plan, fixed once at the workflow's (deterministic) time so every
 * chunk sends a day to the same stores however long the backfill runs. Histories from before the
 * patch have none: every day goes to both stores through the API, as then.
 */
function withPublicationPlan(request: BackfillRequest, facts: PublicationFacts | undefined): BackfillRequest {
  if (!patched(BACKFILL_PATCHES.targetStores)) return request;
  const plan = planPublication({ ...request, now: Date.now() }, facts ?? { sparkPublish: false });
  return { ...request, publication: plan };
}

/** The plan's chunks: fresh, from a compact carry, or from a carry from before it (every summary). */
function bookOf(request: BackfillRequest, carry: BackfillCarry | undefined): ChunkBook {
  if (carry?.chunks) return ChunkBook.fromLegacy({ chunks: carry.chunks });
  const plan = planChunks(request.startDate, request.endDate, request.chunkSizeDays).filter(
    (c) => !request.onlyChunks || request.onlyChunks.includes(c.id),
  );
  return new ChunkBook(plan, carry?.book);
}
