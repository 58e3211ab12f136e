/**
 * The worker process's SDK runtime: logs as one JSON line per entry, and, when BACKFILL_METRICS_PORT
 * is set, a Prometheus endpoint with the SDK's own metrics (temporal_*) and the backfill's
 * (backfill_*, recorded by the workflows through the SDK's metric meter: src/workflows/metrics.ts)
 * at http://HOST:BACKFILL_METRICS_PORT/metrics.
 */
import { DefaultLogger, IllegalStateError, Runtime, type LogEntry } from '@temporalio/worker';
import { METRICS } from './common/metric-names';

/** Upper bounds (seconds) of the chunk step duration histogram: 1 s to 8 h. */
const STEP_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800];

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

/** What installWorkerRuntime did in this process: the runtime can be installed only once. */
let installed: { metrics: string | undefined } | undefined;

/**
 * Installs the worker's SDK runtime: the JSON-line logger, and the Prometheus exporter when
 * BACKFILL_METRICS_PORT is set (on all interfaces: the scraper runs elsewhere). Must run before any
 * connection or worker is created: the first of those fixes the runtime for the process. Once per
 * process: later calls (another worker in the same process) keep the first call's runtime.
 * Returns the metrics bind address, or undefined when metrics are off.
 */
export function installWorkerRuntime(
  env: NodeJS.ProcessEnv = process.env,
  write: (line: string) => void = (l) => process.stdout.write(l),
  metricsOptional = false,
): string | undefined {
  if (installed) return installed.metrics;
  const port = metricsPort(env);
  const bindAddress = port === undefined ? undefined : `0.0.0.0:${port}`;
  const install = (metrics: string | undefined) =>
    Runtime.install({
      logger: new DefaultLogger('INFO', (entry) => write(`${logLine(entry)}\n`)),
      telemetryOptions: metrics ? { metrics: { prometheus: prometheusOptions(metrics) } } : undefined,
    });
  try {
    try {
      install(bindAddress);
      installed = { metrics: bindAddress };
    } catch (err) {
      // A CLI run next to another one on the same port: it runs without metrics rather than fail.
      if (!metricsOptional || !bindAddress || err instanceof IllegalStateError) throw err;
      console.warn(`worker: no metrics endpoint on ${bindAddress}: ${(err as Error).message}`);
      install(undefined);
      installed = { metrics: undefined };
    }
  } catch (err) {
    // Something in this process (an embedding program, a test harness) installed the runtime
    // first: it is kept, with its logger and without our metrics endpoint.
    if (!(err instanceof IllegalStateError)) throw err;
    if (bindAddress)
      console.warn('worker: the SDK runtime was installed before the worker: its logger is kept, no metrics endpoint');
    installed = { metrics: undefined };
  }
  return installed.metrics;
}

function prometheusOptions(bindAddress: string) {
  return {
    bindAddress,
    // Prometheus conventions: counters end in _total, durations are in seconds.
    countersTotalSuffix: true,
    useSecondsForDurations: true,
    // The SDK's default buckets end at 10 s; chunk steps (a Spark job, an ingest) take minutes to hours.
    histogramBucketOverrides: { [METRICS.stepDuration]: STEP_DURATION_BUCKETS },
  };
}

/**
 * One log entry as one JSON line (time, level, message, then the SDK's and our fields: workflowId,
 * chunk, step, outcome, ...), so log search can filter on fields. Errors keep name, message, stack.
 */
function logLine(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  return JSON.stringify({ time, level: entry.level, message: entry.message, ...entry.meta }, (_key, value: unknown) => {
    if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
    return typeof value === 'bigint' ? value.toString() : value;
  });
}
