/**
 * The worker: registers the workflows and the activities of the configured backend
 * (BACKFILL_BACKEND=local, the default, or aws) on the task queue.
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
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

export async function runWorker(): Promise<void> {
  const { connectionOptions, namespace } = temporalConnection();
  // Before the first connection, which would otherwise fix the SDK's default runtime.
  const metrics = installWorkerRuntime();
  const connection = await NativeConnection.connect(connectionOptions);
  const searchAttributes = searchAttributeLister(connection);
  try {
    await checkNamespaceAtStartup(searchAttributes, namespace);
  } catch (err) {
    await connection.close();
    throw err;
  }
  const backends = await createBackends();
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: taskQueue(),
    workflowsPath: require.resolve('./workflows'),
    // The overlap lease activities talk to Temporal through the worker's own connection.
    activities: {
      ...createActivities({ ...backends, searchAttributes }),
      ...createLeaseActivities({ client: new Client({ connection, namespace }), spark: backends.spark }),
    },
    shutdownGraceTime: shutdownGraceMs(),
    // Heartbeats (and with them a cancel or a pause) reach the server within 5 s, not 80% of the
    // heartbeat timeout: an operator's cancel stops a Spark run in seconds.
    maxHeartbeatThrottleInterval: '5 seconds',
  });
  console.log(
    `worker: backend ${backends.name}, task queue ${taskQueue()}, namespace ${namespace}${metrics ? `, metrics on http://${metrics}/metrics` : ''}`,
  );
  await worker.run();
  await connection.close();
}

if (require.main === module) {
  runWorker().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
