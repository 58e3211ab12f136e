/**
 * Every ApplicationFailure type the backfill throws or tells apart, in one place. Pure (no Node
 * built-ins), so workflows, activities, backends and the CLI all import it. The strings are part
 * of recorded histories and of what operators search for: never change one.
 */
export const FAILURE = {
  /** The request is wrong (a field names the problem); no retry can fix it. */
  invalidInput: 'InvalidInput',
  /** The Spark job succeeded but left no manifest. */
  missingManifest: 'MissingManifest',
  /** An AWS call was refused for lack of permission. */
  awsAccessDenied: 'AwsAccessDenied',
  /** Bronze files the job could not read (named in the failure's details). */
  badBronzeInput: 'BadBronzeInput',
  /** The lake refused a read or write of the job (retryable or not, as the job said). */
  storageError: 'StorageError',
  /** A Spark job run failed or was cancelled without naming why. */
  sparkJobFailed: 'SparkJobFailed',
  /** A Spark job run ran out of memory (JVM OutOfMemoryError, container killed for memory, exit 137). */
  sparkOutOfMemory: 'SparkOutOfMemory',
  /** A chunk's step failed for good; the chunk workflow's result is in the details. */
  chunkFailed: 'ChunkFailed',
  /** Another running backfill holds some of the same days. */
  backfillOverlap: 'BackfillOverlap',
  /** The worker shut down while a job ran on; the next attempt follows the same run. */
  workerShutdown: 'WorkerShutdown',
  /**
   * A conditional ledger write found the record changed since it was read (or created when it was
   * expected absent): another writer exists. Non-retryable: a blind retry would overwrite it.
   */
  ledgerConflict: 'LedgerConflict',
} as const;
