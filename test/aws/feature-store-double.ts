/**
 * A wire-level double of the SageMaker Feature Store runtime (moto has no sagemaker-featurestore-
 * runtime): a node:http server speaking its REST-JSON protocol, for what the ingest path calls:
 *   POST /BatchWriteRecord           {Entries: [...]} -> {Errors: [...], UnprocessedEntries: [...]}
 *   PUT  /FeatureGroup/{name}        {Record: [...]}  (PutRecord)
 * with a token-bucket quota per API (throttled calls answer 400 ThrottlingException and consume
 * no token), entries left unprocessed at a given rate, permanent per-record errors, an optional
 * refusal of BatchWriteRecord, a write limit per record identifier (the online store's 500 write
 * units/s per identifier: an entry over it fails with ThrottlingException), and a log of every record
 * written with its TargetStores, to check exactly-once delivery.
 */
import { awsError, ok, serve, type HttpDouble, type Reply } from './http-double';

interface Feature {
  FeatureName: string;
  ValueAsString?: string;
}
interface Entry {
  FeatureGroupName: string;
  Record: Feature[];
  TargetStores?: string[];
}

export interface FeatureStoreDoubleOptions {
  /** Sustained quota per API, in requests per second; unlimited when absent. */
  requestsPerSecond?: number;
  /** Token bucket size: requests that may go at once after a quiet period. */
  burst?: number;
  /** Added to every answer, as a real network round trip would be. */
  latencyMs?: number;
  /** Share of accepted entries returned as UnprocessedEntries. */
  unprocessedRate?: number;
  /** A record this returns an error for fails every time (as a malformed record would). */
  permanentError?: (record: Record<string, string>) => { code: string; message: string } | undefined;
  /** Entries of these records come back unprocessed the first time they are sent. */
  unprocessedFirstTime?: (record: Record<string, string>) => boolean;
  /** An answer to force for the n-th call (1-based) of an API, before anything else is done. */
  inject?: (api: 'BatchWriteRecord' | 'PutRecord', call: number) => Reply | undefined;
  /** Answer BatchWriteRecord with this error code (as an endpoint without the batch API would). */
  refuseBatch?: { status: number; code: string };
  /**
   * Writes per second one record identifier (card_id) takes, as the online store's 500 write units
   * per identifier (token bucket of a tenth of a second); unlimited when absent.
   */
  perRecordWritesPerSecond?: number;
  /** Feature groups that exist; any group when absent. */
  featureGroups?: string[];
  seed?: number;
}

export interface WrittenRecord {
  featureGroup: string;
  eventId: string;
  recordId: string;
  api: 'BatchWriteRecord' | 'PutRecord';
  /** The request's TargetStores; absent: both stores (the API's default). */
  targetStores?: string[];
}

class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class FeatureStoreDouble {
  readonly written: WrittenRecord[] = [];
  readonly stats = {
    batchCalls: 0,
    putCalls: 0,
    throttled: 0,
    unprocessedEntries: 0,
    entryErrors: 0,
    accepted: 0,
    /** Entries refused by the per-identifier limit. */
    recordThrottled: 0,
  };
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly recordBuckets = new Map<string, TokenBucket>();
  private server?: HttpDouble;
  private randomState: number;
  private readonly seen = new Set<string>();

  constructor(private readonly options: FeatureStoreDoubleOptions = {}) {
    this.randomState = options.seed ?? 42;
  }

  get endpoint(): string {
    return this.server!.endpoint;
  }

  async start(): Promise<void> {
    this.server = await serve(
      [
        {
          method: 'POST',
          pattern: /^\/BatchWriteRecord$/,
          handle: (_m, body) => this.batchWriteRecord(body as { Entries?: Entry[] }),
        },
        {
          method: 'PUT',
          pattern: /^\/FeatureGroup\/([^/]+)$/,
          handle: (m, body) => this.putRecord(m[1], body as { Record?: Feature[]; TargetStores?: string[] }),
        },
      ],
      { latencyMs: () => this.options.latencyMs ?? 0 },
    );
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  /** How many times each event id was written. */
  writeCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const w of this.written) counts.set(w.eventId, (counts.get(w.eventId) ?? 0) + 1);
    return counts;
  }

  private allowed(api: string): boolean {
    const rate = this.options.requestsPerSecond;
    if (rate === undefined) return true;
    let bucket = this.buckets.get(api);
    if (!bucket) {
      bucket = new TokenBucket(rate, this.options.burst ?? rate);
      this.buckets.set(api, bucket);
    }
    return bucket.take();
  }

  /** Whether the record identifier has a write left this instant (the per-identifier limit). */
  private recordAllowed(recordId: string): boolean {
    const rate = this.options.perRecordWritesPerSecond;
    if (rate === undefined) return true;
    let bucket = this.recordBuckets.get(recordId);
    if (!bucket) {
      bucket = new TokenBucket(rate, Math.max(1, Math.round(rate / 10)));
      this.recordBuckets.set(recordId, bucket);
    }
    return bucket.take();
  }

  private random(): number {
    // mulberry32: a seeded generator, so a run's unprocessed entries can be reproduced.
    let t = (this.randomState = (this.randomState + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private validate(group: string, record: Feature[] | undefined): Reply | undefined {
    if (this.options.featureGroups && !this.options.featureGroups.includes(group)) {
      return awsError(
        404,
        'ResourceNotFound',
        `Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name ${group}`,
      );
    }
    if (!Array.isArray(record) || record.length === 0)
      return awsError(400, 'ValidationError', 'Record must not be empty');
    return undefined;
  }

  private batchWriteRecord(body: { Entries?: Entry[] }): Reply {
    this.stats.batchCalls += 1;
    const injected = this.options.inject?.('BatchWriteRecord', this.stats.batchCalls);
    if (injected) return injected;
    if (this.options.refuseBatch) {
      return awsError(
        this.options.refuseBatch.status,
        this.options.refuseBatch.code,
        'BatchWriteRecord is not available to this caller',
      );
    }
    const entries = body.Entries ?? [];
    if (entries.length < 1 || entries.length > 25) {
      return awsError(
        400,
        'ValidationError',
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 25`,
      );
    }
    for (const e of entries) {
      const bad = this.validate(e.FeatureGroupName, e.Record);
      if (bad) return bad;
    }
    if (!this.allowed('BatchWriteRecord')) {
      this.stats.throttled += 1;
      return awsError(400, 'ThrottlingException', 'Rate exceeded');
    }
    const Errors: { Entry: Entry; ErrorCode: string; ErrorMessage: string }[] = [];
    const UnprocessedEntries: Entry[] = [];
    for (const entry of entries) {
      const record = toMap(entry.Record);
      const error = this.options.permanentError?.(record);
      const firstTime = !this.seen.has(record.event_id);
      this.seen.add(record.event_id);
      if (error) {
        this.stats.entryErrors += 1;
        Errors.push({ Entry: entry, ErrorCode: error.code, ErrorMessage: error.message });
      } else if (!this.recordAllowed(record.card_id ?? '')) {
        this.stats.recordThrottled += 1;
        Errors.push({
          Entry: entry,
          ErrorCode: 'ThrottlingException',
          ErrorMessage: 'record identifier write rate exceeded',
        });
      } else if (
        (firstTime && this.options.unprocessedFirstTime?.(record)) ||
        this.random() < (this.options.unprocessedRate ?? 0)
      ) {
        this.stats.unprocessedEntries += 1;
        UnprocessedEntries.push(entry);
      } else {
        this.write(entry, 'BatchWriteRecord');
      }
    }
    return ok({ Errors, UnprocessedEntries });
  }

  private putRecord(group: string, body: { Record?: Feature[]; TargetStores?: string[] }): Reply {
    this.stats.putCalls += 1;
    const injected = this.options.inject?.('PutRecord', this.stats.putCalls);
    if (injected) return injected;
    const bad = this.validate(group, body.Record);
    if (bad) return bad;
    if (!this.allowed('PutRecord')) {
      this.stats.throttled += 1;
      return awsError(400, 'ThrottlingException', 'Rate exceeded');
    }
    const error = this.options.permanentError?.(toMap(body.Record!));
    if (error) {
      this.stats.entryErrors += 1;
      return awsError(400, error.code, error.message);
    }
    if (!this.recordAllowed(toMap(body.Record!).card_id ?? '')) {
      this.stats.recordThrottled += 1;
      return awsError(400, 'ThrottlingException', 'record identifier write rate exceeded');
    }
    this.write({ FeatureGroupName: group, Record: body.Record!, TargetStores: body.TargetStores }, 'PutRecord');
    return ok({});
  }

  private write(entry: Entry, api: WrittenRecord['api']): void {
    const m = toMap(entry.Record);
    this.stats.accepted += 1;
    this.written.push({
      featureGroup: entry.FeatureGroupName,
      eventId: m.event_id ?? '',
      recordId: m.card_id ?? '',
      api,
      ...(entry.TargetStores ? { targetStores: entry.TargetStores } : {}),
    });
  }
}

function toMap(record: Feature[]): Record<string, string> {
  return Object.fromEntries(record.map((f) => [f.FeatureName, f.ValueAsString ?? '']));
}
