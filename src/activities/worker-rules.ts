/**
 * The worker's own rules, enforced by the activities that act whatever the workflow passed them:
 * a workflow can be started by anyone with access to the namespace, with any input (issue 21).
 * sparkConf by the allow list and BACKFILL_ALLOW_SPARK_CONF, emr.jobRole by BACKFILL_ALLOWED_JOB_ROLES,
 * the lake prefixes inside the lake and apart from each other.
 */
import { InputError, type BackfillRequest } from '../common/input';
import { refusingBadInput } from '../common/input-error';
import { lakePrefixes } from '../common/lake-prefixes';
import { memoryBytes } from '../common/memory-ladder';
import {
  checkSparkConfAllowed,
  checkSparkConfEntry,
  checkWorkerAllowances,
  type WorkerAllowances,
} from '../common/spark-conf';
import { workerAllowances } from '../config';

/** Throws a non-retryable InvalidInput failure naming the field when the request breaks a rule of this worker. */
export function enforceWorkerRules(request: BackfillRequest, allowances: WorkerAllowances = workerAllowances()): void {
  refusingBadInput(() => {
    checkWorkerAllowances({ sparkConf: request.sparkConf ?? {}, emr: request.emr }, allowances);
    const prefixes = lakePrefixes(request.prefixes);
    for (const key of ['bronze', 'silver', 'gold'] as const) {
      // The paths the activities build must be the ones the checks saw (no trailing "/", no extra field).
      if (prefixes[key] !== request.prefixes[key])
        throw new InputError(`prefixes.${key}`, `${JSON.stringify(request.prefixes[key])} is not a checked prefix`);
    }
  });
}

/**
 * The settings a Spark run is about to be submitted with: the worker's own keys (its sizing table and
 * memory ladder) with safe values, the rest (the request's, carried over from an earlier attempt's
 * heartbeat) by the allow list and BACKFILL_ALLOW_SPARK_CONF; the memory ladder's key a memory size.
 */
export function enforceSubmittedConf(
  conf: Record<string, string>,
  worker: { keys: readonly string[]; memoryKey?: string },
  allowances: WorkerAllowances = workerAllowances(),
): void {
  refusingBadInput(() => {
    for (const [key, value] of Object.entries(conf)) {
      checkSparkConfEntry(key, value);
      if (!worker.keys.includes(key)) checkSparkConfAllowed(key, allowances.sparkConf);
      if (key === worker.memoryKey && !(memoryBytes(value) > 0))
        throw new InputError(`sparkConf.${key}`, `${JSON.stringify(value)} is not a Spark memory size such as 8g`);
    }
  });
}
