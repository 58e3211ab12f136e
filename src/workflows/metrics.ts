/**
 * The backfill's own metrics, recorded from workflow code through the SDK's workflow metric meter:
 * it emits on the worker's runtime (Prometheus on BACKFILL_METRICS_PORT, src/runtime.ts) and skips
 * replay, so a value counts once however often a history is replayed. Recording where the workflow
 * learns a result makes the counters add up to the report. Every metric carries feature_group and
 * feature_version (the SDK adds namespace, task_queue, workflow_type); no chunk ids: labels stay bounded.
 * Counters are named without `_total`: the exporter appends it (src/runtime.ts).
 */
import { metricMeter } from '@temporalio/workflow';
import type { BackfillRequest } from '../common/input';
import type { BackfillStatus, ChunkStatus, IngestResult, SparkJobResult } from '../common/results';
import { METRICS } from '../common/metric-names';
import { failedCount } from '../common/results';

export { METRICS };

function labels(request: BackfillRequest) {
  return { feature_group: request.featureGroup, feature_version: request.featureVersion };
}

function count(name: string, description: string, value: number | undefined, tags: Record<string, string>): void {
  // Zero too: a series that exists from the first backfill on makes rate() and alarms simpler.
  metricMeter.createCounter(name, undefined, description).add(value ?? 0, tags);
}

/** A backfill ended (succeeded, partially_failed, failed, cancelled, dry_run). */
export function recordBackfillFinished(request: BackfillRequest, status: BackfillStatus): void {
  count(METRICS.backfillsFinished, 'Backfills ended, by status', 1, { ...labels(request), status });
}

/** A chunk child ended (succeeded, failed, cancelled). */
export function recordChunkFinished(request: BackfillRequest, status: ChunkStatus): void {
  count(METRICS.chunksFinished, 'Chunk workflows ended, by status', 1, { ...labels(request), status });
}

/** One step of a chunk ended: how long it took in workflow time (retries included), and how. */
export function recordStep(
  request: BackfillRequest,
  step: string,
  outcome: 'ok' | 'failed' | 'cancelled',
  seconds: number,
): void {
  metricMeter
    .createHistogram(
      METRICS.stepDuration,
      'float',
      undefined,
      'Duration of a chunk step (spark, catalog, ingest, validate), retries included',
    )
    .record(Math.max(0, seconds), { ...labels(request), step, outcome });
}

/** The Spark job's gold rows. */
export function recordSpark(request: BackfillRequest, result: SparkJobResult): void {
  count(METRICS.rowsWritten, 'Gold rows written by Spark jobs', result.manifest.output_rows, labels(request));
}

/** What ingestion sent: records taken, dead-lettered, and the feature store's pushback. */
export function recordIngest(request: BackfillRequest, result: IngestResult): void {
  const tags = labels(request);
  count(METRICS.recordsIngested, 'Records the feature store has taken', result.recordsWritten, tags);
  count(
    METRICS.recordsDeadLettered,
    'Records the feature store refused for good (dead-letter files)',
    failedCount(result),
    tags,
  );
  count(METRICS.throttled, 'Feature store calls throttled', result.throttled, tags);
  count(METRICS.retries, 'Feature store calls retried', result.retries, tags);
}
