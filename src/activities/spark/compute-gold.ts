/**
 * The Spark step of runSparkJob: the run sized, submitted or followed across worker restarts and
 * deploys, its failure named, and run again up the memory ladder when it ran out of memory.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { FAILURE } from '../../common/failures';
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { ChunkManifest, SparkSettings } from '../../common/results';
import type { Backends, JobHandle, JobStatus, Lake, SparkRunner } from '../backends';
import { followJob } from './follow-job';
import { climbMemoryLadder, outOfMemoryFailure, outOfMemorySignature } from './memory-ladder';
import { bronzeBytesOf, chunkSettings } from './sizing';
import { sparkJobFailure } from './errors';
import { stopOrDetach } from './stop';
import type { SparkAttempt } from './attempts';
import { enforceSubmittedConf } from '../worker-rules';

export interface ComputedJob {
  manifest?: ChunkManifest;
  jobRunId: string;
  logLocation?: string;
  settings?: SparkSettings;
}

/**
 * The Spark run of the days to compute: sized from the bronze it will read (the request's sparkConf
 * wins), followed to its end, and run again a rung up the memory ladder when it ran out of memory.
 */
export async function computeGold(
  backends: Pick<Backends, 'lake' | 'spark' | 'pollIntervalMs' | 'sparkSizes' | 'memoryLadder'>,
  job: Omit<FollowInput, 'previous'>,
  attempt: SparkAttempt,
): Promise<ComputedJob> {
  const { lake, spark } = backends;
  const ctx = Context.current();
  const { request, chunk } = job;
  const sized = chunkSettings(backends.sparkSizes, await bronzeBytesOf(lake, request, chunk), request.sparkConf);
  ctx.log.info('spark settings', { chunk: chunk.id, ...sized });
  // The run of an earlier attempt (followed, not restarted) and the settings it ran with.
  const previous = attempt.previousRun;
  const climbed = await climbMemoryLadder({
    ladder: backends.memoryLadder,
    conf: { ...sized.conf, ...attempt.prior.sparkConf },
    onEscalate: (e) => ctx.log.warn('out of memory: running again with more memory', { chunk: chunk.id, ...e }),
    run: (sparkConf, first) => {
      // Whatever the request and an earlier attempt's heartbeat say: only allowed keys and safe values.
      enforceSubmittedConf(sparkConf, workerConf(backends));
      return followSparkJob(
        { spark, lake, pollIntervalMs: backends.pollIntervalMs ?? 2000, attempt },
        { ...job, request: { ...request, sparkConf }, previous: first ? previous : undefined },
      );
    },
  });
  return { ...climbed.value, settings: { ...sized, conf: climbed.conf, escalations: climbed.escalations } };
}

/** The Spark settings this worker sets itself: its sizing table's and its memory ladder's. */
function workerConf(backends: Pick<Backends, 'sparkSizes' | 'memoryLadder'>): { keys: string[]; memoryKey?: string } {
  const sized = Object.values(backends.sparkSizes ?? {}).flatMap((tier) => Object.keys(tier));
  const memoryKey = backends.memoryLadder?.key;
  return { keys: [...sized, ...(memoryKey ? [memoryKey] : [])], memoryKey };
}

export interface FollowInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  args: string[];
  runName: string;
  /** Where the job writes its manifest. */
  manifest: string;
  /** Where the job records a failure it can name (spark_jobs/card_features/failures.py). */
  errorRecord: string;
  /** The run an earlier attempt started (its heartbeat), to follow instead of submitting. */
  previous?: JobHandle;
}

/** Runs the Spark job to the end, following the same run across worker restarts; returns its manifest. */
async function followSparkJob(
  {
    spark,
    lake,
    pollIntervalMs,
    attempt,
  }: { spark: SparkRunner; lake: Lake; pollIntervalMs: number; attempt: SparkAttempt },
  { request, chunk, args, runName, manifest, errorRecord, previous }: FollowInput,
): Promise<{ manifest: ChunkManifest; jobRunId: string; logLocation?: string }> {
  const ctx = Context.current();
  let handle = previous ? await spark.reattach(previous, { request, chunk, args, runName }) : undefined;
  if (!handle) {
    handle = await spark.submit({ request, chunk, args, runName });
    ctx.log.info('spark job submitted', { chunk: chunk.id, jobRunId: handle.id, logLocation: handle.logLocation });
  }
  const beat = () => attempt.heartbeat({ ...handle, sparkConf: request.sparkConf });
  beat();
  let status: JobStatus;
  try {
    status = await followJob({
      spark,
      handle,
      wait: () => ctx.sleep(pollIntervalMs), // rejects when the activity is cancelled
      onStatus: beat,
    });
  } catch (err) {
    // Only an operator's cancel stops the run (and waits for it); a worker shutdown leaves it to the retry.
    if (ctx.cancellationSignal.aborted) throw await stopOrDetach(ctx, spark, handle, chunk, err);
    throw err;
  }
  if (status.state === 'failed') await throwNamedFailure(lake, errorRecord, { handle, chunk, detail: status.detail });
  if (status.state !== 'succeeded') {
    throw ApplicationFailure.retryable(
      `Spark job ${handle.id} ${status.state} for chunk ${chunk.id}: ${status.detail ?? 'no detail'}`,
      FAILURE.sparkJobFailed,
      { jobRunId: handle.id, logLocation: handle.logLocation },
    );
  }
  const text = await lake.readText(manifest);
  if (!text) {
    throw ApplicationFailure.nonRetryable(
      `Spark job ${handle.id} succeeded but wrote no manifest at ${manifest}`,
      FAILURE.missingManifest,
    );
  }
  return { manifest: JSON.parse(text) as ChunkManifest, jobRunId: handle.id, logLocation: handle.logLocation };
}

/** Throws the failure a failed run can be named by: bad input or a refusing lake (recorded by the job), or out of memory. */
async function throwNamedFailure(
  lake: Lake,
  errorRecord: string,
  { handle, chunk, detail }: { handle: JobHandle; chunk: ChunkSpec; detail?: string },
): Promise<void> {
  // A bad bronze file or a refusing lake, named by the job: retrying would fail the same way.
  const named = await sparkJobFailure(lake, errorRecord);
  if (named) throw named;
  // EMR's state details (executor lost to memory, exit 137) or the driver's last error line.
  const oom = outOfMemorySignature(detail);
  if (oom) {
    throw outOfMemoryFailure({
      message: `Spark job ${handle.id} failed for chunk ${chunk.id}: ${detail ?? oom}`,
      signature: oom,
      topReached: false,
      details: { jobRunId: handle.id, logLocation: handle.logLocation },
    });
  }
}
