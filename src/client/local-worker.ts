/**
 * The worker `backfill run --local` hosts in its own process while it follows a backfill: the
 * local backends (spark-submit, lake directory, local catalog and feature store), logging to
 * {state dir}/worker.log so the terminal stays for progress and the report.
 */
import { Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  IllegalStateError,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createActivities } from '../activities';
import { createLeaseActivities } from '../activities/ledger';
import { createLocalBackends } from '../activities/local';
import { localPaths, temporalConnection } from '../config';
import { gitRevision } from '../worker';

/** Bundled once per process: tests (and retry-failed after a run) start several workers. */
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

export async function withLocalWorker<T>(taskQueue: string, work: () => Promise<T>): Promise<T> {
  const { connectionOptions, namespace } = temporalConnection();
  const paths = localPaths();
  installFileLogger(path.join(paths.stateDir, 'worker.log'));
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('WARN') });
  const workflowBundle = await bundle.catch((err) => {
    bundle = undefined;
    throw err;
  });
  const connection = await NativeConnection.connect(connectionOptions);
  const backends = createLocalBackends({ ...paths, codeRevision: gitRevision() });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowBundle,
    activities: {
      ...createActivities(backends),
      // The overlap lease activities talk to Temporal through the worker's own connection.
      ...createLeaseActivities({ client: new Client({ connection, namespace }), spark: backends.spark }),
    },
    // Heartbeats (and with them a cancel or a pause) reach the server within 5 s, not 80% of the
    // heartbeat timeout: an operator's cancel stops a Spark run in seconds.
    maxHeartbeatThrottleInterval: '5 seconds',
  });
  try {
    return await worker.runUntil(work);
  } finally {
    backends.featureStores.close();
    await connection.close();
  }
}

/**
 * Worker logs go to a file. The SDK's Runtime can be installed once per process: when something
 * installed it already (a test harness, an embedding program), install() refuses and its logger is kept.
 */
function installFileLogger(file: string): void {
  let dirReady = false;
  const logger = new DefaultLogger('INFO', (entry) => {
    if (!dirReady) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      dirReady = true;
    }
    const meta = entry.meta ? ` ${JSON.stringify(entry.meta)}` : '';
    fs.appendFileSync(
      file,
      `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} ${entry.message}${meta}\n`,
    );
  });
  try {
    Runtime.install({ logger });
  } catch (err) {
    if (!(err instanceof IllegalStateError)) throw err;
  }
}
