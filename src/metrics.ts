/**
 * The worker's Prometheus endpoint: the SDK runtime's own metrics (temporal_*) and the backfill's
 * (backfill_*, recorded by the workflows through the SDK's metric meter: src/workflows/metrics.ts),
 * served at http://HOST:BACKFILL_METRICS_PORT/metrics.
 */
import { Runtime } from '@temporalio/worker';
import { METRICS } from './common/metric-names';


/** Upper bounds (seconds) of the chunk step duration histogram: 1 s to 8 h. */
export const STEP_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800];

/**
 * The port of the metrics endpoint, from BACKFILL_METRICS_PORT; undefined (no endpoint) when unset.
 * @default unset: no metrics endpoint
 */
export function metricsPort(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const value = env.BACKFILL_METRICS_PORT;
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new Error(`BACKFILL_METRICS_PORT must be a port number from 1 to 65535, got "${value}"`);
  }
  return port;
}

/**
 * Installs the SDK runtime with the Prometheus exporter when BACKFILL_METRICS_PORT is set. Must run
 * before any connection or worker is created: the first of those fixes the runtime for the process.
 * Listens on all interfaces: the scraper runs elsewhere.
 * Returns the bind address, or undefined when metrics are off.
 */
export function installMetricsRuntime(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const port = metricsPort(env);
  if (port === undefined) return undefined;
  const bindAddress = `0.0.0.0:${port}`;
  Runtime.install({
    telemetryOptions: {
      metrics: {
        // Prometheus conventions: counters end in _total, durations are in seconds.
        prometheus: {
          bindAddress,
          countersTotalSuffix: true,
          useSecondsForDurations: true,
          // The SDK's default buckets end at 10 s; chunk steps (a Spark job, an ingest) take minutes to hours.
          histogramBucketOverrides: { [METRICS.stepDuration]: STEP_DURATION_BUCKETS },
        },
      },
    },
  });
  return bindAddress;
}
