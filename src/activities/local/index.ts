/** The local embedded backends: spark-submit, a lake directory, a JSON catalog, a SQLite feature store. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { BackfillRequest } from '../../common/input';
import { FAILURE } from '../../common/failures';
import type { Backends } from '../backends';
import type { MemoryLadder } from '../../common/memory-ladder';
import { sparkMemoryLadder } from '../../config';
import { lakeRoot, fileUriToPath } from '../lake-paths';
import { LocalCatalog } from './catalog';
import { LocalFeatureStores } from './feature-store';
import { LocalLake } from './lake';
import { LOCAL_SPARK_SIZES, LocalSparkRunner } from './spark-submit';

export interface LocalBackendOptions {
  venvBin: string;
  jobDir: string;
  stateDir: string;
  codeRevision?: string;
  pollIntervalMs?: number;
  /**
   * The memory a run out of memory climbs (spark.driver.memory of local spark-submit).
   * @default sparkMemoryLadder('local') in src/config.ts: BACKFILL_SPARK_MEMORY_LADDER, else 2g, 4g, 8g
   */
  memoryLadder?: MemoryLadder;
}

export function createLocalBackends(options: LocalBackendOptions): Backends & { featureStores: LocalFeatureStores } {
  const lake = new LocalLake();
  const featureStores = new LocalFeatureStores();
  return {
    name: 'local',
    lake,
    spark: new LocalSparkRunner({
      sparkSubmit: path.join(options.venvBin, 'spark-submit'),
      python: path.join(options.venvBin, 'python'),
      jobDir: options.jobDir,
      logDir: path.join(options.stateDir, 'spark-logs'),
    }),
    catalog: new LocalCatalog(lake),
    // The store belongs to the request's lake, not to this worker: any local worker writes to the same one.
    featureStores,
    featureStoreFor: (request) => featureStores.forRequest(request),
    codeRevision: options.codeRevision,
    pollIntervalMs: options.pollIntervalMs,
    sparkSizes: LOCAL_SPARK_SIZES,
    memoryLadder: 'memoryLadder' in options ? options.memoryLadder : sparkMemoryLadder('local'),
    async preflight(request: BackfillRequest) {
      const root = lakeRoot(request.bucket);
      if (!root.startsWith('file://')) {
        throw ApplicationFailure.nonRetryable(
          `bucket: "${request.bucket}" is not a local directory; the local backend needs a lake directory (or run the worker with BACKFILL_BACKEND=aws)`,
          FAILURE.invalidInput,
        );
      }
      if (!fs.existsSync(fileUriToPath(root))) {
        throw ApplicationFailure.nonRetryable(
          `bucket: local lake directory ${fileUriToPath(root)} does not exist`,
          FAILURE.invalidInput,
        );
      }
      // The local store has no online TTL; its Spark job writes the offline layout itself (offline_publish.py).
      return { publication: { sparkPublish: true } };
    },
  };
}
