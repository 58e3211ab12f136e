/**
 * Activities: every piece of I/O the backfill does. createActivities() receives the backends
 * (local or AWS) by injection; the workflow only sees these functions.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { addDays, dateRange } from '../common/dates';
import type { BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';
import { planChunks } from '../common/plan';
import type {
  CatalogResult,
  ChunkManifest,
  DryRunPlan,
  IngestResult,
  SparkJobResult,
  ValidationResult,
} from '../common/results';
import type { Catalog, FeatureStore, JobHandle, Lake, SparkRunner } from './backends';
import { DEFAULT_INGEST_OPTIONS, ingestChunk, type IngestCheckpoint, type IngestOptions } from './ingest';
import { bronzeTable, goldPartition, goldTable, manifestUri } from './lake-paths';
import { sparkJobArgs } from './spark-args';
import { stopOrDetach } from './spark-stop';
import { validateChunk as validateChunkAgainstLake } from './validate';

export interface Backends {
  name: string;
  lake: Lake;
  spark: SparkRunner;
  catalog: Catalog;
  featureStore: FeatureStore;
  /**
   * Backend-specific checks of a request (e.g. EMR settings on AWS); throw InvalidInput failures.
   * May fix what the backfill then keeps, e.g. the deployed job code's key.
   */
  preflight?(request: BackfillRequest): Promise<PreflightResult | void>;
  /** Label of the deployed job code, recorded in manifests. */
  codeRevision?: string;
  /** How often a running Spark job is polled. */
  pollIntervalMs?: number;
  ingestOptions?: Partial<IngestOptions>;
}

/** What a backend's preflight fixes for the whole backfill. */
export interface PreflightResult {
  /** Key prefix of the job code in the code bucket (AWS), resolved once so chunks keep it. */
  jobCodeKey?: string;
}

/** Error types the workflow's retry policies treat as final. */
export const NON_RETRYABLE = { invalidInput: 'InvalidInput', missingManifest: 'MissingManifest' } as const;

export function createActivities(backends: Backends) {
  const { lake, spark, catalog, featureStore } = backends;
  const pollIntervalMs = backends.pollIntervalMs ?? 2000;

  return {
    async preflight(request: BackfillRequest): Promise<{ backend: string } & PreflightResult> {
      const resolved = await backends.preflight?.(request);
      return { backend: backends.name, ...resolved };
    },

    /** Dry run: what a backfill would read and write, without writing anything. */
    async inspectLake(request: BackfillRequest): Promise<DryRunPlan> {
      const days = dateRange(request.startDate, request.endDate);
      const bronzePresent: Record<string, number> = {};
      const bronzeMissing: string[] = [];
      // The chunk days plus the lookback day before and the lateness days after, as the job reads.
      for (const dt of dateRange(addDays(request.startDate, -1), addDays(request.endDate, request.allowedLatenessDays))) {
        const files = await lake.list(`${bronzeTable(request)}/dt=${dt}`);
        if (files.length > 0) bronzePresent[dt] = files.reduce((s, f) => s + f.size, 0);
        else bronzeMissing.push(dt);
      }
      const goldExisting: string[] = [];
      for (const dt of days) if ((await lake.list(goldPartition(request, dt))).length > 0) goldExisting.push(dt);
      return {
        chunks: planChunks(request.startDate, request.endDate, request.chunkSizeDays),
        bronzePresent,
        bronzeMissing,
        goldExisting,
        wouldSkip: request.overwrite ? [] : goldExisting,
        wouldOverwrite: request.overwrite ? goldExisting : [],
      };
    },

    /** Runs the chunk's Spark job to the end, following the same run across worker restarts. */
    async runSparkJob(request: BackfillRequest, chunk: ChunkSpec, runName: string): Promise<SparkJobResult> {
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as JobHandle | undefined;
      let handle = previous ? await spark.reattach(previous) : undefined;
      if (!handle) {
        const args = sparkJobArgs(request, chunk, backends.codeRevision ?? '');
        handle = await spark.submit({ request, chunk, args, runName });
        ctx.log.info('spark job submitted', { chunk: chunk.id, jobRunId: handle.id, logLocation: handle.logLocation });
      }
      ctx.heartbeat(handle);
      try {
        for (;;) {
          const status = await spark.status(handle);
          if (status.state === 'succeeded') break;
          if (status.state === 'failed' || status.state === 'cancelled') {
            throw ApplicationFailure.retryable(
              `Spark job ${handle.id} ${status.state} for chunk ${chunk.id}: ${status.detail ?? 'no detail'}`,
              'SparkJobFailed',
              { jobRunId: handle.id, logLocation: handle.logLocation },
            );
          }
          ctx.heartbeat(handle);
          await ctx.sleep(pollIntervalMs); // rejects when the activity is cancelled
        }
      } catch (err) {
        // Only an operator's cancel stops the run (and waits for it); a worker shutdown leaves it to the retry.
        if (ctx.cancellationSignal.aborted) throw await stopOrDetach(ctx, spark, handle, chunk, err);
        throw err;
      }
      const text = await lake.readText(manifestUri(request, chunk.id));
      if (!text) {
        throw ApplicationFailure.nonRetryable(
          `Spark job ${handle.id} succeeded but wrote no manifest at ${manifestUri(request, chunk.id)}`,
          NON_RETRYABLE.missingManifest,
        );
      }
      return { manifest: JSON.parse(text) as ChunkManifest, jobRunId: handle.id, logLocation: handle.logLocation };
    },

    async refreshCatalog(request: BackfillRequest, chunk: ChunkSpec): Promise<CatalogResult> {
      // A crawler run takes minutes: heartbeat meanwhile, so a lost worker is noticed and a
      // cancellation is answered (the crawl itself finishes on its own; it only reads).
      const ctx = Context.current();
      return whileHeartbeating(ctx, () => undefined, () => Promise.race([catalog.refresh(request, chunk, goldTable(request)), ctx.cancelled]));
    },

    /** Sends the chunk's new gold rows to the feature store, resuming from the last checkpoint. */
    async ingestFeatures(request: BackfillRequest, chunk: ChunkSpec, manifest: ChunkManifest): Promise<IngestResult> {
      const ctx = Context.current();
      let latest = ctx.info.heartbeatDetails as IngestCheckpoint | undefined;
      // Besides the checkpoint after each batch, a steady heartbeat covers long parquet reads and
      // long throttling backoffs, so the server never times out an attempt that is still writing.
      return whileHeartbeating(ctx, () => latest, () => ingestChunk(
        { lake, featureStore },
        request,
        chunk,
        manifest,
        {
          checkpoint: ctx.info.heartbeatDetails as IngestCheckpoint | undefined,
          heartbeat: (checkpoint) => {
            latest = checkpoint;
            ctx.heartbeat(checkpoint);
          },
          sleep: (ms) => ctx.sleep(ms),
        },
        { ...DEFAULT_INGEST_OPTIONS, ...backends.ingestOptions },
      ));
    },

    async validateChunk(
      request: BackfillRequest,
      chunk: ChunkSpec,
      manifest: ChunkManifest,
      ingest: IngestResult,
    ): Promise<ValidationResult> {
      return validateChunkAgainstLake(lake, request, chunk, manifest, ingest);
    },
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
