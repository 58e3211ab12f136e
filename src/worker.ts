/**
 * The worker: registers the workflows and the activities of the configured backend
 * (BACKFILL_BACKEND=local, the default, or aws) on the task queue.
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { createActivities, type Backends } from './activities';
import { createAwsBackendsFromEnv } from './activities/aws';
import { createLeaseActivities } from './activities/lease';
import { createLocalBackends } from './activities/local';
import { backendName, localPaths, projectRoot, taskQueue, temporalConnection } from './config';

export function gitRevision(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: projectRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export async function createBackends(): Promise<Backends> {
  const backend = backendName();
  if (backend === 'local') return createLocalBackends({ ...localPaths(), codeRevision: gitRevision() });
  return createAwsBackendsFromEnv();
}

export async function runWorker(): Promise<void> {
  const { connectionOptions, namespace } = temporalConnection();
  const connection = await NativeConnection.connect(connectionOptions);
  const backends = await createBackends();
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: taskQueue(),
    workflowsPath: require.resolve('./workflows'),
    // The overlap lease activities talk to Temporal through the worker's own connection.
    activities: { ...createActivities(backends), ...createLeaseActivities({ client: new Client({ connection, namespace }) }) },
  });
  console.log(`worker: backend ${backends.name}, task queue ${taskQueue()}, namespace ${namespace}`);
  await worker.run();
  await connection.close();
}

if (require.main === module) {
  runWorker().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
