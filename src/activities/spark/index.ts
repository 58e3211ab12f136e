/**
 * The Spark step: the runSparkJob activity brings a chunk's gold up to date. The days the ledger
 * says need computing go to one Spark job run (followed across worker restarts, compute-gold.ts);
 * days already committed are not computed again.
 */
import { Context } from '@temporalio/activity';
import { dateRange } from '../../common/dates';
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { SparkJobResult } from '../../common/results';
import type { Backends } from '../backends';
import { errorRecordUri, manifestUri } from '../lake-paths';
import { readStates } from '../ledger/day-states';
import { goldDecision, type DayState } from '../ledger/records';
import { enforceWorkerRules } from '../worker-rules';
import { sparkJobArgs } from './args';
import { SparkAttempt } from './attempts';
import { computeGold, type ComputedJob } from './compute-gold';
import { creditedManifest, replacedDefinitions } from './manifest';
import { sparkPublishArgs, sparkPublishDates } from './publish';

export interface RunSparkJobInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** A stable name for the job run, unique per backfill and chunk (the runner's idempotency token). */
  runName: string;
  /** The backfill run writing the gold (its ledger id); gold this run committed is kept, not rebuilt. */
  runId?: string;
}

/** What the Spark step uses of the worker's backends. */
export type SparkStepDeps = Pick<
  Backends,
  'lake' | 'spark' | 'codeRevision' | 'pollIntervalMs' | 'sparkSizes' | 'memoryLadder'
>;

export function createSparkActivities(deps: SparkStepDeps) {
  return {
    /** Brings the chunk's gold up to date; days already committed are not computed again. */
    async runSparkJob(input: RunSparkJobInput, ...legacy: unknown[]): Promise<SparkJobResult> {
      // Real failures counted across attempts (attempts.ts); a worker shutdown is not one.
      const attempt = new SparkAttempt(Context.current());
      return attempt.run(() => runSparkJob(deps, sparkInput(input, legacy), attempt));
    },
  };
}

async function runSparkJob(
  deps: SparkStepDeps,
  input: RunSparkJobInput,
  attempt: SparkAttempt,
): Promise<SparkJobResult> {
  const { request, chunk, runName } = input;
  enforceWorkerRules(request);
  // Chunks scheduled before the ledger carry no run id: their own workflow run stands in.
  const runId = input.runId ?? Context.current().info.workflowExecution?.runId ?? runName;
  const days = dateRange(chunk.startDate, chunk.endDate);
  const before = await readStates(deps.lake, request, days);
  const computeDates = before.filter((s) => goldDecision(s, request, runId).action === 'compute').map((s) => s.dt);
  const accepted = request.acceptDefinitionChange
    ? replacedDefinitions(before, computeDates, request.featureVersion)
    : undefined;
  const job = await runJob(deps, { input, runId, before, computeDates }, attempt);
  const after = await readStates(deps.lake, request, days);
  const manifest = creditedManifest({ request, chunk, runId, job: job.manifest, states: after });
  return {
    manifest: accepted ? { ...manifest, accepted_definition_change: accepted } : manifest,
    jobRunId: job.jobRunId,
    logLocation: job.logLocation,
    sparkSettings: job.settings,
  };
}

/** One job run for the days to compute and to publish; none when there are neither. */
async function runJob(
  deps: SparkStepDeps,
  plan: { input: RunSparkJobInput; runId: string; before: DayState[]; computeDates: string[] },
  attempt: SparkAttempt,
): Promise<ComputedJob> {
  const { input, runId, before, computeDates } = plan;
  const { request, chunk, runName } = input;
  const publishDates = sparkPublishDates(request, before, computeDates);
  if (computeDates.length === 0 && publishDates.length === 0) return { jobRunId: 'none (every day already in gold)' };
  const args = [
    ...sparkJobArgs({ request, chunk, codeRevision: deps.codeRevision ?? '', ledger: { runId, computeDates } }),
    ...sparkPublishArgs(request, publishDates),
  ];
  return computeGold(
    deps,
    {
      request,
      chunk,
      args,
      runName,
      manifest: manifestUri(request, chunk.id, runId),
      errorRecord: errorRecordUri(request, chunk.id, runId),
    },
    attempt,
  );
}

/**
 * Scheduled before one-object inputs: (request, chunk, runName). Recorded histories
 * (test/histories/2026-11-25-*) carry such runSparkJob calls.
 */
function sparkInput(input: RunSparkJobInput, legacy: unknown[]): RunSparkJobInput {
  return 'request' in input
    ? input
    : { request: input as BackfillRequest, chunk: legacy[0] as ChunkSpec, runName: legacy[1] as string };
}
