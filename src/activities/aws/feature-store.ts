/**
 * SageMaker Feature Store writes. BatchWriteRecord answers with the failed and unprocessed
 * *entries* (not positions); they are matched back to the request's indices by content. A call
 * throttled as a whole becomes a ThrottledError, which the ingest loop backs off on, and a server
 * fault or a network error a TransientStoreError, which it retries. Where the
 * batch API is refused (an endpoint or policy without it), records go one by one with PutRecord,
 * and the store remembers that for the rest of the worker's life.
 */
import {
  BatchWriteRecordCommand,
  PutRecordCommand,
  SageMakerFeatureStoreRuntimeClient,
  type BatchWriteRecordEntry,
  type TargetStore,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { targetStoreNames, type TargetStoresChoice } from '../../common/publication-plan';
import { ApplicationFailure } from '@temporalio/activity';
import {
  type BatchWriteOutcome,
  type FeatureStore,
  type RecordEntry,
  ThrottledError,
  TransientStoreError,
} from '../backends';
import {
  awsErrorName,
  classifyAwsError,
  errorMessage,
  httpStatus,
  isAccessDenied,
  isThrottling,
  isTransient,
} from './errors';
import { FAILURE } from '../../common/failures';

export type WriteMode = 'batch' | 'put';

export interface FeatureStoreOptions {
  /** Start in PutRecord mode (e.g. known from configuration that the batch API is not allowed). */
  mode?: WriteMode;
  log?: (message: string) => void;
}

/** Error codes meaning "this API is not available to you here", as opposed to "this request is wrong". */
const REFUSED_OPERATION = new Set([
  'UnknownOperationException',
  'UnknownOperation',
  'InvalidAction',
  'UnsupportedOperation',
]);

export class SageMakerFeatureStore implements FeatureStore {
  private currentMode: WriteMode;

  constructor(
    private readonly client: SageMakerFeatureStoreRuntimeClient,
    private readonly options: FeatureStoreOptions = {},
  ) {
    this.currentMode = options.mode ?? 'batch';
  }

  get mode(): WriteMode {
    return this.currentMode;
  }

  async batchWrite(entries: RecordEntry[], targets: TargetStoresChoice = 'both'): Promise<BatchWriteOutcome> {
    // Sent only when not both: both is the API's own default, and older doubles know no TargetStores.
    const stores = targets === 'both' ? undefined : targetStoreNames(targets);
    if (entries.length < 1 || entries.length > 25) {
      throw new Error(`a BatchWriteRecord call takes 1 to 25 entries, got ${entries.length}`);
    }
    if (this.currentMode === 'batch') {
      try {
        return await this.writeBatch(entries, stores);
      } catch (err) {
        if (!batchRefused(err)) throw err;
        this.currentMode = 'put';
        (this.options.log ?? console.warn)(
          `feature store: BatchWriteRecord refused (${awsErrorName(err)}: ${errorMessage(err)}); writing with PutRecord from now on`,
        );
      }
    }
    return this.putEach(entries, stores);
  }

  private async writeBatch(entries: RecordEntry[], stores?: TargetStore[]): Promise<BatchWriteOutcome> {
    let out;
    try {
      const sent = stores ? entries.map((e) => ({ ...e, TargetStores: stores })) : entries;
      out = await this.client.send(new BatchWriteRecordCommand({ Entries: sent }));
    } catch (err) {
      if (isThrottling(err)) throw new ThrottledError(`BatchWriteRecord throttled: ${errorMessage(err)}`);
      if (batchRefused(err)) throw err;
      if (isTransient(err))
        throw new TransientStoreError(`BatchWriteRecord failed: ${errorMessage(err)}`, { cause: err });
      throw classifyFeatureStoreError(err, 'BatchWriteRecord', entries[0].FeatureGroupName);
    }
    const match = entryMatcher(entries);
    const outcome: BatchWriteOutcome = {
      errors: [],
      unprocessed: (out.UnprocessedEntries ?? []).map((e) => match(e, 'UnprocessedEntries')),
    };
    for (const e of out.Errors ?? []) {
      const index = match(e.Entry, 'Errors');
      // An entry throttled or hit by a server fault succeeds when sent again: the caller resends unprocessed ones.
      if (RETRYABLE_ENTRY_CODES.has(e.ErrorCode ?? '')) outcome.unprocessed.push(index);
      else outcome.errors.push({ index, code: e.ErrorCode ?? 'UnknownError', message: e.ErrorMessage ?? '' });
    }
    return outcome;
  }

  /** One PutRecord per entry, all at once; answers as BatchWriteRecord would. */
  private async putEach(entries: RecordEntry[], stores?: TargetStore[]): Promise<BatchWriteOutcome> {
    const results = await Promise.all(
      entries.map((entry) =>
        this.client
          .send(
            new PutRecordCommand({
              FeatureGroupName: entry.FeatureGroupName,
              Record: entry.Record,
              TargetStores: stores,
            }),
          )
          .then(
            () => undefined,
            (err: unknown) => err,
          ),
      ),
    );
    const failures = results.filter((r) => r !== undefined);
    if (failures.length === entries.length && failures.every(isThrottling)) {
      throw new ThrottledError(`PutRecord throttled for all ${entries.length} records: ${errorMessage(failures[0])}`);
    }
    // Not allowed to write at all: no record of this batch (or any other) can succeed.
    const denied = failures.find(isAccessDenied);
    if (denied) {
      throw ApplicationFailure.nonRetryable(
        `feature store refused both BatchWriteRecord and PutRecord on ${entries[0].FeatureGroupName}: ${awsErrorName(denied)}: ${errorMessage(denied)}`,
        FAILURE.awsAccessDenied,
      );
    }
    const outcome: BatchWriteOutcome = { errors: [], unprocessed: [] };
    results.forEach((err, index) => {
      if (err === undefined) return;
      // Throttled or a server fault: send it again (the ingest loop backs off on unprocessed entries).
      if (isTransient(err)) outcome.unprocessed.push(index);
      else if (awsErrorName(err) === 'ResourceNotFound')
        throw classifyFeatureStoreError(err, 'PutRecord', entries[index].FeatureGroupName);
      else outcome.errors.push({ index, code: awsErrorName(err), message: errorMessage(err) });
    });
    return outcome;
  }
}

/** Error codes of BatchWriteRecord entries that succeed when sent again. */
const RETRYABLE_ENTRY_CODES = new Set(['ThrottlingException', 'InternalFailure', 'ServiceUnavailable', 'Throttling']);

/** BatchWriteRecord is not available (unknown operation, or forbidden while PutRecord may not be). */
function batchRefused(err: unknown): boolean {
  if (err instanceof ApplicationFailure || err instanceof ThrottledError || err instanceof TransientStoreError)
    return false;
  const name = awsErrorName(err);
  // A 404 that is not "feature group not found" means the route itself is unknown.
  return REFUSED_OPERATION.has(name) || isAccessDenied(err) || (httpStatus(err) === 404 && name !== 'ResourceNotFound');
}

function classifyFeatureStoreError(err: unknown, api: string, featureGroup: string): unknown {
  if (awsErrorName(err) === 'ResourceNotFound') {
    return ApplicationFailure.nonRetryable(
      `featureGroup: feature group "${featureGroup}" not found by ${api}: ${errorMessage(err)}`,
      FAILURE.invalidInput,
    );
  }
  return classifyAwsError(err, `SageMaker Feature Store ${api} on ${featureGroup}`);
}

/** Finds the request index of an entry the service sent back; equal entries take successive indices. */
function entryMatcher(entries: RecordEntry[]): (entry: BatchWriteRecordEntry | undefined, where: string) => number {
  const byKey = new Map<string, number[]>();
  entries.forEach((e, i) => {
    const key = entryKey(e);
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  });
  return (entry, where) => {
    const indices = entry ? byKey.get(entryKey(entry)) : undefined;
    if (!indices || indices.length === 0) {
      // Never guess: a record we cannot place would be lost or written twice.
      throw new Error(
        `BatchWriteRecord ${where} names an entry that is not in the request: ${JSON.stringify(entry)?.slice(0, 300)}`,
      );
    }
    return indices.shift()!;
  };
}

function entryKey(entry: {
  FeatureGroupName?: string;
  Record?: { FeatureName?: string; ValueAsString?: string; ValueAsStringList?: string[] }[];
}): string {
  const features = [...(entry.Record ?? [])]
    .map((f) => [f.FeatureName ?? '', f.ValueAsString ?? null, f.ValueAsStringList ?? null] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify([entry.FeatureGroupName ?? '', features]);
}
