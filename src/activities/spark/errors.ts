/**
 * Turns the error record a failed Spark job leaves (`--error-path`) into the failure the Spark
 * activity throws: a named, plain-words failure instead of a retried Java stack trace.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { describeBadFiles, type BadBronzeFile } from '../../common/bad-input';
import { FAILURE } from '../../common/failures';
import type { Lake } from '../backends';
import { outOfMemoryFailure } from './memory-ladder';

/** What spark_jobs/card_features/failures.py writes (field names as the job writes them). */
export type SparkErrorRecord =
  | { type: 'BadInput'; files: BadBronzeFile[] }
  | { type: 'StorageError'; path: string; reason: string; retryable: boolean }
  | { type: 'OutOfMemory'; signature: string }
  | { type: 'LedgerConflict'; path: string; expected: string | null; found: string | null; reason: string };

/**
 * The failure to throw for a failed job run, from its error record at `errorUri`; undefined when
 * the job left none (it failed for a reason it could not name: the generic, retryable failure applies).
 */
export async function sparkJobFailure(lake: Lake, errorUri: string): Promise<ApplicationFailure | undefined> {
  const text = await lake.readText(errorUri);
  if (text === undefined) return undefined;
  let record: SparkErrorRecord;
  try {
    record = JSON.parse(text) as SparkErrorRecord;
  } catch {
    return undefined; // a half-written record cannot happen (written by rename), so this is not ours
  }
  if (record.type === 'BadInput' && Array.isArray(record.files) && record.files.length > 0) {
    // A corrupt file stays corrupt: retrying would spend a whole job run to fail the same way.
    return ApplicationFailure.create({
      type: FAILURE.badBronzeInput,
      message: describeBadFiles(record.files),
      nonRetryable: true,
      details: [{ files: record.files, errorRecord: errorUri }],
    });
  }
  if (record.type === 'StorageError') {
    // The job decides: permission and read-only need an operator; no space may clear on new workers.
    return ApplicationFailure.create({
      type: FAILURE.storageError,
      message: `storage error at ${record.path || 'an unknown path'}: ${record.reason}`,
      nonRetryable: record.retryable !== true,
      details: [{ path: record.path, reason: record.reason, errorRecord: errorUri }],
    });
  }
  if (record.type === 'LedgerConflict') {
    // Another writer changed the record since the job read it: the same job again would meet it again;
    // the next decision re-reads the ledger (a retry of the chunk, or the operator's retry-failed).
    return ApplicationFailure.create({
      type: FAILURE.ledgerConflict,
      message: `ledger conflict at ${record.path}: ${record.reason}`,
      nonRetryable: true,
      details: [{ path: record.path, expected: record.expected, found: record.found, errorRecord: errorUri }],
    });
  }
  if (record.type === 'OutOfMemory' && typeof record.signature === 'string') {
    // The memory ladder (memory-ladder.ts) runs it again with more memory.
    return outOfMemoryFailure({
      message: `the Spark job ran out of memory: ${record.signature}`,
      signature: record.signature,
      topReached: false,
      details: { errorRecord: errorUri },
    });
  }
  return undefined;
}
