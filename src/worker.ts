/**
 * The worker: createBackfillWorker() is the one way a worker is built (the standalone worker
 * below, `backfill run --local`'s in-process worker, the tests): the workflows, the activities of
 * the backends, the SDK runtime (JSON logs, metrics), the namespace's search attributes and the
 * shutdown grace. runWorker() is the standalone process, on the backend of BACKFILL_BACKEND
 * (local, the default, or aws).
 */
import { Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { createActivities } from './activities';
import type { Backends } from './activities/backends';
import { createAwsBackendsFromEnv } from './activities/aws';
import { createLeaseActivities } from './activities/ledger';
import { createLocalBackends } from './activities/local';
import {
  namespaceSearchAttributeProblem,
  searchAttributeLister,
  type SearchAttributeLister,
} from './activities/backfill/search-attributes';
import { installWorkerRuntime } from './runtime';
import { backendName, localPaths, projectRoot, taskQueue, temporalConnection } from './config';

export function gitRevision(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: projectRoot(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

async function createBackends(): Promise<Backends> {
  const backend = backendName();
  if (backend === 'local') return createLocalBackends({ ...localPaths(), codeRevision: gitRevision() });
  return createAwsBackendsFromEnv();
}

/**
 * Start-up check of the namespace's search attributes. Missing ones stop the worker with the
 * commands that create them: such a worker could only fail every backfill (at preflight), and a
 * worker that exits at deploy time is noticed at once, not at the first backfill. An identity
 * that may not list them only gets a warning (preflight then skips the check too).
 */
export async function checkNamespaceAtStartup(list: SearchAttributeLister, namespace: string): Promise<void> {
  const problem = await namespaceSearchAttributeProblem(list, namespace, (m) => console.warn(`worker: ${m}`));
  if (problem) throw new Error(problem);
}

/**
 * How long a stopping worker (SIGTERM on a deploy) lets running activities finish before the SDK
 * cancels them with WORKER_SHUTDOWN; below Kubernetes' default 30 s before SIGKILL. Short steps end
 * within it; a Spark attempt then leaves its job run going for the retry on another worker.
 * BACKFILL_SHUTDOWN_GRACE_SECONDS overrides it.
 * @default 20 seconds
 */
export function shutdownGraceMs(env = process.env): number {
  const value = env.BACKFILL_SHUTDOWN_GRACE_SECONDS;
  if (value === undefined || value === '') return 20_000;
  if (!/^\d+$/.test(value))
    throw new Error(`BACKFILL_SHUTDOWN_GRACE_SECONDS must be a whole number of seconds, got "${value}"`);
  return Number(value) * 1000;
}

export interface BackfillWorkerOptions {
  taskQueue: string;
  /** The real activities over these backends; or, for tests, `fake` activities in their place. */
  activities: { backends: Backends } | { fake: object };
  /**
   * An open connection and its namespace, which stays the caller's to close. Its process's SDK
   * runtime is fixed already: the metrics endpoint and JSON logs come only if ours was installed first.
   * @default a connection from the SDK's environment configuration (TEMPORAL_ADDRESS, ...), closed by close()
   */
  connection?: { connection: NativeConnection; namespace: string };
  /**
   * Writes the runtime's log: one JSON line (ending in a newline) per entry. The first worker of a
   * process decides.
   * @default stdout
   */
  writeLog?: (text: string) => void;
  /** Read for BACKFILL_METRICS_PORT and BACKFILL_SHUTDOWN_GRACE_SECONDS. @default process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * When the metrics port cannot be bound (say, in use by another worker), warn and run without
   * metrics instead of failing: for the CLI's in-process worker. @default false
   */
  metricsOptional?: boolean;
}

export interface BackfillWorker {
  worker: Worker;
  connection: NativeConnection;
  namespace: string;
  /** The metrics endpoint's bind address; undefined when this process serves none. */
  metrics: string | undefined;
  /** One line for the log: backend, task queue, namespace, metrics endpoint. */
  summary: string;
  /** Closes the connection if this function opened it (after the worker has stopped). */
  close(): Promise<void>;
}

/**
 * Builds a worker: installs the SDK runtime (once per process, before the first connection),
 * connects, refuses a namespace without the backfill's search attributes, and registers the
 * workflows (bundled once per process) and the activities.
 */
export async function createBackfillWorker(options: BackfillWorkerOptions): Promise<BackfillWorker> {
  const env = options.env ?? process.env;
  const metrics = installWorkerRuntime(env, options.writeLog, options.metricsOptional);
  const { connection, namespace, close } = await openConnection(options.connection);
  try {
    const searchAttributes = searchAttributeLister(connection);
    await checkNamespaceAtStartup(searchAttributes, namespace);
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue: options.taskQueue,
      workflowBundle: await workflowBundle(),
      activities: activitiesOf(options.activities, { connection, namespace, searchAttributes }),
      shutdownGraceTime: shutdownGraceMs(env),
      // Heartbeats (and with them a cancel or a pause) reach the server within 5 s, not 80% of the
      // heartbeat timeout: an operator's cancel stops a Spark run in seconds.
      maxHeartbeatThrottleInterval: '5 seconds',
    });
    const backend = 'backends' in options.activities ? options.activities.backends.name : 'fake activities';
    const summary = `worker: backend ${backend}, task queue ${options.taskQueue}, namespace ${namespace}${metrics ? `, metrics on http://${metrics}/metrics` : ''}`;
    return { worker, connection, namespace, metrics, summary, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function openConnection(given: BackfillWorkerOptions['connection']) {
  if (given) return { ...given, close: async () => undefined };
  const { connectionOptions, namespace } = temporalConnection();
  const connection = await NativeConnection.connect(connectionOptions);
  return { connection, namespace, close: () => connection.close() };
}

function activitiesOf(
  chosen: BackfillWorkerOptions['activities'],
  on: { connection: NativeConnection; namespace: string; searchAttributes: SearchAttributeLister },
): object {
  if ('fake' in chosen) return chosen.fake;
  const { backends } = chosen;
  return {
    // Preflight checks the namespace's search attributes again, per backfill.
    ...createActivities({ ...backends, searchAttributes: on.searchAttributes }),
    // The overlap lease activities talk to Temporal through the worker's own connection.
    ...createLeaseActivities({
      client: new Client({ connection: on.connection, namespace: on.namespace }),
      spark: backends.spark,
    }),
  };
}

/** Bundled once per process: the CLI (retry-failed after a run) and the tests start several workers. */
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: new DefaultLogger('WARN'),
  }).catch((err: unknown) => {
    bundle = undefined;
    throw err;
  });
  return bundle;
}

export async function runWorker(): Promise<void> {
  const backends = await createBackends();
  const built = await createBackfillWorker({ taskQueue: taskQueue(), activities: { backends } });
  console.log(built.summary);
  try {
    await built.worker.run();
  } finally {
    await built.close();
  }
}

if (require.main === module) {
  runWorker().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
