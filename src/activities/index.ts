/**
 * Activities: every piece of I/O the backfill does. createActivities() receives the backends
 * (local or AWS) by injection; the workflow only sees these functions. Each takes one input object.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { addDays, dateRange } from '../common/dates';
import { FAILURE } from '../common/failures';
import { InputError, type BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';
import { planChunks } from '../common/plan';
import { dayPublisher, dayTargets } from '../common/publication-plan';
import { dryRunPublication } from './backfill/publication-estimate';
import { sparkPublishArgs, sparkPublishDates } from './spark/publish';
import type {
  CatalogResult,
  ChunkManifest,
  DryRunDay,
  DryRunPlan,
  IngestResult,
  SparkJobResult,
  ValidationResult,
} from '../common/results';
import type { BackfillOutcome, Backends, Lake, PreflightResult } from './backends';
import { DEFAULT_INGEST_OPTIONS, ingestChunk, type IngestProgress } from './ingest/chunk';
import { checkBronzeFiles } from './backfill/bronze-check';
import { commitFingerprint, guardDefinitionChange } from './ledger/definition-guard';
import { currentFingerprints } from './ledger/fingerprint';
import { bronzeTable, errorRecordUri, goldTable, manifestUri } from './lake-paths';
import {
  CRAWLED_CATALOG_BACKEND,
  goldDecision,
  publishAction,
  readDayState,
  staleRunFiles,
  type DayState,
} from './ledger/records';
import { namespaceSearchAttributeProblem } from './backfill/search-attributes';
import { sparkJobArgs } from './spark/args';
import { bronzeBytesFrom, chunkSettings } from './spark/sizing';
import { computeGold, type ComputedJob } from './spark/compute-gold';
import { SparkAttempt } from './spark/attempts';
import { enforceWorkerRules } from './worker-rules';
import { validateChunk as validateChunkAgainstLake } from './validate/check';

export interface RunSparkJobInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** A stable name for the job run, unique per backfill and chunk (idempotency token on EMR). */
  runName: string;
  /** The backfill run writing the gold (its ledger id); gold this run committed is kept, not rebuilt. */
  runId?: string;
}

export interface ChunkStepInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** The backfill run (ledger id); ingestion credits what this run published in earlier attempts. */
  runId?: string;
}

export interface ValidateInput extends ChunkStepInput {
  spark: SparkJobResult;
}

export function createActivities(backends: Backends) {
  const { lake, catalog } = backends;

  return {
    async preflight(request: BackfillRequest): Promise<{ backend: string } & PreflightResult> {
      if (backends.searchAttributes) {
        // Before the workflow's first upsertSearchAttributes, which would otherwise hang the backfill.
        const { info, log } = Context.current();
        const problem = await namespaceSearchAttributeProblem(backends.searchAttributes, info.namespace, (m) =>
          log.warn(m),
        );
        if (problem) throw ApplicationFailure.nonRetryable(problem, FAILURE.invalidInput);
      }
      // The checks that need this worker's settings (sparkConf beyond the allow list, job roles).
      enforceWorkerRules(request);
      try {
        // One definition and transform code per version's gold (docs/design.md, "Lineage and staleness").
        const change = await guardDefinitionChange(lake, request, currentFingerprints(request.featureVersion));
        if (change) Context.current().log.warn('definition change accepted', { ...change });
      } catch (err) {
        if (err instanceof InputError) throw ApplicationFailure.nonRetryable(err.message, FAILURE.invalidInput);
        throw err;
      }
      const resolved = await backends.preflight?.(request);
      return { backend: backends.name, ...resolved };
    },

    /** The worker's rules (sparkConf, job role, lake prefixes) for a request a chunk workflow was started with. */
    async checkRequest(request: BackfillRequest): Promise<void> {
      enforceWorkerRules(request);
    },

    /** Dry run: what a backfill would read, write and send, from the same ledger rules as a real run. */
    async inspectLake(request: BackfillRequest): Promise<DryRunPlan> {
      enforceWorkerRules(request);
      const bronzePresent: Record<string, number> = {};
      const bronzeMissing: string[] = [];
      const badBronzeFiles = [];
      // The chunk days plus the lookback day before and the lateness days after, as the job reads.
      for (const dt of dateRange(
        addDays(request.startDate, -1),
        addDays(request.endDate, request.allowedLatenessDays),
      )) {
        const files = await lake.list(`${bronzeTable(request)}/dt=${dt}`);
        if (files.length > 0) bronzePresent[dt] = files.reduce((s, f) => s + f.size, 0);
        else bronzeMissing.push(dt);
        // Empty files and files whose first bytes do not match their name (a cheap check: a gzip
        // file cut short in the middle is found only by the job).
        badBronzeFiles.push(...(await checkBronzeFiles(lake, files)));
      }
      const states = await readStates(lake, request, dateRange(request.startDate, request.endDate));
      const days = states.map((s) => ({
        ...dryRunDay(s, request, bronzePresent[s.dt] !== undefined),
        stores: dayTargets(request.publication, s.dt),
        publishWith: dayPublisher(request.publication, s.dt),
      }));
      const existing = states.filter(hasGold).map((s) => s.dt);
      const chunks = planChunks(request.startDate, request.endDate, request.chunkSizeDays);
      return {
        chunks,
        // The settings each chunk's run would start with (sizing.ts), from the same byte counts.
        sizing: chunks.map((c) => ({
          chunkId: c.id,
          ...chunkSettings(backends.sparkSizes, bronzeBytesFrom(request, c, bronzePresent), request.sparkConf),
        })),
        bronzePresent,
        bronzeMissing,
        goldExisting: existing,
        wouldSkip: days.filter((d) => d.gold === 'keep' && existing.includes(d.dt)).map((d) => d.dt),
        wouldOverwrite: days.filter((d) => d.gold === 'compute' && existing.includes(d.dt)).map((d) => d.dt),
        days,
        foreign: days.filter((d) => d.publish === 'foreign').map((d) => d.dt),
        badBronzeFiles,
        publication: dryRunPublication(request.publication, states, bronzePresent),
      };
    },

    /**
     * Brings the chunk's gold up to date: the days the ledger says need computing go to one Spark
     * job run (followed across worker restarts); days already committed are not computed again.
     */
    async runSparkJob(input: RunSparkJobInput, ...legacy: unknown[]): Promise<SparkJobResult> {
      // Real failures counted across attempts (spark-attempts.ts); a worker shutdown is not one.
      const attempt = new SparkAttempt(Context.current());
      return attempt.run(async () => {
        const { request, chunk, runName } = sparkInput(input, legacy);
        enforceWorkerRules(request);
        // Chunks scheduled before the ledger carry no run id: their own workflow run stands in.
        const runId = input.runId ?? Context.current().info.workflowExecution?.runId ?? runName;
        const days = dateRange(chunk.startDate, chunk.endDate);
        const before = await readStates(lake, request, days);
        const computeDates = before
          .filter((s) => goldDecision(s, request, runId).action === 'compute')
          .map((s) => s.dt);
        const accepted = request.acceptDefinitionChange
          ? replacedDefinitions(before, computeDates, request.featureVersion)
          : undefined;
        const publishDates = sparkPublishDates(request, before, computeDates);
        let job: ComputedJob = { jobRunId: 'none (every day already in gold)' };
        if (computeDates.length > 0 || publishDates.length > 0) {
          const args = [
            ...sparkJobArgs({
              request,
              chunk,
              codeRevision: backends.codeRevision ?? '',
              ledger: { runId, computeDates },
            }),
            ...sparkPublishArgs(request, publishDates),
          ];
          job = await computeGold(
            backends,
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
        const after = await readStates(lake, request, days);
        const manifest = creditedManifest({ request, chunk, runId, job: job.manifest, states: after });
        return {
          manifest: accepted ? { ...manifest, accepted_definition_change: accepted } : manifest,
          jobRunId: job.jobRunId,
          logLocation: job.logLocation,
          sparkSettings: job.settings,
        };
      });
    },

    async refreshCatalog(input: ChunkStepInput, ...legacy: unknown[]): Promise<CatalogResult> {
      const { request, chunk } = stepInput(input, legacy);
      enforceWorkerRules(request);
      // A crawler run takes minutes: heartbeat meanwhile, so a lost worker is noticed and a
      // cancellation is answered (the crawl itself finishes on its own; it only reads).
      const ctx = Context.current();
      const result = await whileHeartbeating(
        ctx,
        () => undefined,
        () => Promise.race([catalog.refresh(request, chunk, goldTable(request)), ctx.cancelled]),
      );
      // Readers now use the current gold: earlier runs' files (but the one before, for rollback) can go.
      // A crawler would serve a rollback copy as a second run of the day, so under one none is kept.
      const keepPrevious = result.backend !== CRAWLED_CATALOG_BACKEND;
      for (const state of await readStates(lake, request, dateRange(chunk.startDate, chunk.endDate))) {
        await lake.delete(await staleRunFiles(lake, request, state, { keepPrevious }));
      }
      return result;
    },

    /** Sends the chunk's unpublished gold to the feature store, resuming where the ledger says. */
    async ingestFeatures(input: ChunkStepInput, ...legacy: unknown[]): Promise<IngestResult> {
      const { request, chunk, runId } = stepInput(input, legacy);
      enforceWorkerRules(request);
      const ctx = Context.current();
      let latest: IngestProgress | undefined;
      // Besides the progress after each batch, a steady heartbeat covers long parquet reads and
      // long throttling backoffs, so the server never times out an attempt that is still writing.
      return whileHeartbeating(
        ctx,
        () => latest,
        () =>
          ingestChunk(
            { lake, featureStore: backends.featureStoreFor(request) },
            {
              request,
              chunk,
              runId,
              ctx: {
                heartbeat: (progress) => {
                  latest = progress;
                  ctx.heartbeat(progress);
                },
                sleep: (ms) => ctx.sleep(ms),
                cancellation: ctx.cancellationSignal,
              },
              options: { ...DEFAULT_INGEST_OPTIONS, ...backends.ingestOptions },
            },
          ),
      );
    },

    /** Records how a backfill ended where the backend's alarms read it; false when the backend has no such place. */
    async recordBackfillOutcome(outcome: BackfillOutcome): Promise<boolean> {
      if (!backends.outcome) return false;
      await backends.outcome.record(outcome);
      return true;
    },

    async validateChunk(input: ValidateInput, ...legacy: unknown[]): Promise<ValidationResult> {
      enforceWorkerRules('request' in input ? input.request : (input as BackfillRequest));
      if ('request' in input) return validateChunkAgainstLake(lake, input);
      // Scheduled before one-object inputs: (request, chunk, manifest, ingest).
      const [chunk, manifest] = legacy as [ChunkSpec, ChunkManifest];
      return validateChunkAgainstLake(lake, {
        request: input as BackfillRequest,
        chunk,
        spark: { manifest, jobRunId: '' },
      });
    },
  };
}

/** Activities scheduled before one-object inputs passed (request, chunk, ...) positionally. */
function stepInput(input: ChunkStepInput, legacy: unknown[]): ChunkStepInput {
  return 'request' in input ? input : { request: input as BackfillRequest, chunk: legacy[0] as ChunkSpec };
}

function sparkInput(input: RunSparkJobInput, legacy: unknown[]): RunSparkJobInput {
  return 'request' in input
    ? input
    : { request: input as BackfillRequest, chunk: legacy[0] as ChunkSpec, runName: legacy[1] as string };
}

async function readStates(lake: Lake, request: BackfillRequest, days: string[]): Promise<DayState[]> {
  const out: DayState[] = [];
  for (const dt of days) out.push(await readDayState(lake, request, dt));
  return out;
}

/** Days about to be rebuilt whose gold came from another definition (the report names them). */
function replacedDefinitions(
  before: DayState[],
  computeDates: string[],
  version: string,
): ChunkManifest['accepted_definition_change'] {
  const current = currentFingerprints(version);
  const replaced: Record<string, string> = {};
  for (const s of before) {
    const old = s.commit && commitFingerprint(s.commit, current);
    if (old && old !== current.build && computeDates.includes(s.dt)) replaced[s.dt] = old;
  }
  return { fingerprint: current.build, replaced };
}

function hasGold(s: DayState): boolean {
  return s.commit ? s.commit.rows > 0 : s.foreignFiles.length > 0;
}

function dryRunDay(state: DayState, request: BackfillRequest, bronze: boolean): DryRunDay {
  const decision = goldDecision(state, request, request.resumeRunId ?? '');
  if (decision.action === 'compute' && !bronze) {
    // The job writes nothing for a day without bronze: its current gold, if any, stays.
    return { dt: state.dt, gold: 'keep', reason: 'coverage_gap', publish: publishAction(state, request) };
  }
  const publish = decision.action === 'compute' ? 'send' : publishAction(state, request);
  return { dt: state.dt, gold: decision.action, reason: decision.reason, publish };
}

/**
 * The chunk's Spark outcome as the ledger has it: days whose current gold this run committed are
 * credited to it (in this attempt or an earlier one, e.g. before a server restart), other gold
 * is reported as kept.
 */
function creditedManifest(o: {
  request: BackfillRequest;
  chunk: ChunkSpec;
  runId: string;
  job?: ChunkManifest;
  states: DayState[];
}): ChunkManifest {
  const base = o.job ?? emptyManifest(o.request, o.chunk);
  const mine = o.states.filter((s) => s.commit?.run_id === o.runId);
  const rows = Object.fromEntries(mine.map((s) => [s.dt, s.commit!.rows]));
  return {
    ...base,
    written_partitions: mine.filter((s) => s.commit!.rows > 0).map((s) => s.dt),
    output_rows_per_dt: rows,
    output_rows: Object.values(rows).reduce((a, b) => a + b, 0),
    skipped_partitions: o.states
      .filter((s) => s.commit?.run_id !== o.runId && hasGold(s) && !base.coverage_gaps.includes(s.dt))
      .map((s) => s.dt),
  };
}

function emptyManifest(request: BackfillRequest, chunk: ChunkSpec): ChunkManifest {
  return {
    feature_group: request.featureGroup,
    feature_version: request.featureVersion,
    feature_definition: { fingerprint: '', description: '' },
    code_revision: '',
    start_date: chunk.startDate,
    end_date: chunk.endDate,
    overwrite: request.overwrite,
    bronze_partitions_read: [],
    coverage_gaps: [],
    missing_context_partitions: [],
    skipped_partitions: [],
    overwritten_partitions: [],
    written_partitions: [],
    input_rows: 0,
    quarantined_rows: 0,
    quarantined_rows_per_dt: {},
    duplicates_removed: 0,
    output_rows_per_dt: {},
    output_rows: 0,
    duplicate_event_ids_in_output: 0,
    min_event_time: null,
    max_event_time: null,
    gold_table: '',
    duration_seconds: 0,
    spark_version: '',
  };
}

/** Runs `work`, heartbeating `details()` every 5 s until it settles. */
async function whileHeartbeating<T>(ctx: Context, details: () => unknown, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => ctx.heartbeat(details()), 5000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export type BackfillActivities = ReturnType<typeof createActivities>;
