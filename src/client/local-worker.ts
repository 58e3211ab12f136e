/**
 * The worker `backfill run --local` hosts in its own process while it follows a backfill: the
 * local backends (spark-submit, lake directory, local catalog and feature store), built as the
 * standalone worker is (src/worker.ts): the same JSON log lines, written to {state dir}/worker.log
 * so the terminal stays for progress and the report, and the same metrics on BACKFILL_METRICS_PORT.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLocalBackends } from '../activities/local';
import { localPaths } from '../config';
import { createBackfillWorker, gitRevision } from '../worker';

export async function withLocalWorker<T>(taskQueue: string, work: () => Promise<T>): Promise<T> {
  const paths = localPaths();
  const writeLog = fileWriter(path.join(paths.stateDir, 'worker.log'));
  const backends = createLocalBackends({ ...paths, codeRevision: gitRevision() });
  try {
    const built = await createBackfillWorker({ taskQueue, activities: { backends }, writeLog, metricsOptional: true });
    writeLog(`${built.summary}\n`);
    try {
      return await built.worker.runUntil(work);
    } finally {
      await built.close();
    }
  } finally {
    backends.featureStores.close();
  }
}

/** Appends to a file, creating its directory on the first write. */
function fileWriter(file: string): (text: string) => void {
  let dirReady = false;
  return (text) => {
    if (!dirReady) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      dirReady = true;
    }
    fs.appendFileSync(file, text);
  };
}
