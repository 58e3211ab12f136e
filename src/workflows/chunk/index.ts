/**
 * One chunk of a backfill, its own unit of retry and visibility: Spark job, catalog refresh,
 * feature store ingestion, validation (steps.ts). A failed step fails the chunk with the step named;
 * a Spark job that failed on its data runs again day by day (bisect.ts).
 */
import { isCancellation, log, patched, proxyActivities } from '@temporalio/workflow';
import type { BackfillActivities } from '../../activities';
import type { ChunkResult, SparkJobResult } from '../../common/results';
import { rootMessage } from '../../common/errors';
import { acceptChunkInput, needsWorkerCheck, refuse } from '../accept';
import { bisectChunk, isDataFailure } from './bisect';
import { PATCHES, type ChunkWorkflowInput } from './input';
import { ChunkSteps } from './steps';
import { startedPriority } from '../priority';

export { PATCHES, type ChunkWorkflowInput } from './input';

const guard = proxyActivities<BackfillActivities>({
  // Pure checks against the worker's settings: quick, or the worker is gone.
  startToCloseTimeout: '1 minute',
  // A refusal is non-retryable (InvalidInput); only a lost worker or a server hiccup is retried.
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});

export async function chunkWorkflow(input: ChunkWorkflowInput): Promise<ChunkResult> {
  // Histories from before the patch ran their input unchecked.
  const checked = patched(PATCHES.validateChunkInput);
  const accepted = checked ? acceptChunkInput(input) : input;
  const { request } = accepted;
  // The worker's rules (sparkConf, job role), which the workflow cannot read, before any step.
  if (checked && needsWorkerCheck(request))
    await guard.checkRequest.executeWithOptions({ priority: startedPriority() }, [request]).catch(refuse);
  const steps = new ChunkSteps(accepted);
  try {
    return await runSteps(steps, accepted);
  } catch (err) {
    // Histories from before the patch ended a cancelled chunk at once.
    if (isCancellation(err) && patched(PATCHES.catalogOnCancel)) await steps.refreshAfterCancel();
    throw err;
  }
}

/** Spark, then catalog and ingestion, then validation; a data failure of the job bisects the chunk. */
async function runSteps(steps: ChunkSteps, { request, chunk, runId }: ChunkWorkflowInput): Promise<ChunkResult> {
  let sparkResult: SparkJobResult;
  try {
    sparkResult = await steps.spark();
  } catch (err) {
    // Only the data-failure path asks for the patch: histories that never took it replay as before.
    if (chunk.days > 1 && isDataFailure(steps.sparkFailure) && patched(PATCHES.bisectDataFailures)) {
      log.warn('data failure: running the chunk day by day', {
        chunk: chunk.id,
        error: rootMessage(steps.sparkFailure),
      });
      steps.bisected = true;
      return bisectChunk({ request, chunk, runId, failure: steps.sparkFailure });
    }
    throw err;
  }
  await steps.catalogAndIngest();
  return steps.validate(sparkResult);
}
