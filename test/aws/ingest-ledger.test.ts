/**
 * Ingestion as one writer of its publication records (issue 20): a record changed under it stops it
 * with LedgerConflict; a cancel stops it taking batches; a Spark publication that died midway is
 * published again through the API. Against the Feature Store double, with the real SDK client.
 */
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import * as assert from 'node:assert/strict';
import { createActivities } from '../../src/activities';
import { SageMakerFeatureStore } from '../../src/activities/aws/feature-store';
import type { Backends, IngestOptions } from '../../src/activities/backends';
import { DEFAULT_INGEST_OPTIONS, ingestChunk } from '../../src/activities/ingest/chunk';
import type { IngestResult } from '../../src/common/results';
import { goldCommitUri, publicationUri, type GoldCommit, type Publication } from '../../src/activities/ledger/records';
import { FeatureStoreDouble, type FeatureStoreDoubleOptions } from './feature-store-double';
import { addGoldDay, MemoryLake } from './memory-lake';
import { FAKE_CREDENTIALS, REGION } from './moto';
import { awsRequest, firstChunk, rejectsFinal } from './support';

/** One store call as the SDK client sent it: when it started and ended (performance.now()). */
interface CallSpan {
  start: number;
  end?: number;
}

async function withDouble<T>(
  options: FeatureStoreDoubleOptions,
  run: (double: FeatureStoreDouble, store: SageMakerFeatureStore, calls: CallSpan[]) => Promise<T>,
): Promise<T> {
  const double = new FeatureStoreDouble(options);
  await double.start();
  try {
    const client = new SageMakerFeatureStoreRuntimeClient({
      region: REGION,
      endpoint: double.endpoint,
      credentials: FAKE_CREDENTIALS,
      maxAttempts: 1,
    });
    const calls: CallSpan[] = [];
    // Every request as it leaves the client and as its answer comes back.
    client.middlewareStack.add(
      (next) => async (args) => {
        const span: CallSpan = { start: performance.now() };
        calls.push(span);
        try {
          return await next(args);
        } finally {
          span.end = performance.now();
        }
      },
      { step: 'finalizeRequest', name: 'callLog' },
    );
    return await run(double, new SageMakerFeatureStore(client, { log: () => undefined }), calls);
  } finally {
    await double.stop();
  }
}

describe('aws: ingestion as the one writer of its ledger records', function () {
  const request = awsRequest({ bucket: 'lake', startDate: '2025-10-01', endDate: '2025-10-01', chunkSizeDays: 1 });
  const chunk = firstChunk(request);
  const dt = '2025-10-01';
  const options: IngestOptions = { ...DEFAULT_INGEST_OPTIONS, baseDelayMs: 2, maxDelayMs: 50, maxInFlight: 4 };
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const record = (lake: MemoryLake): Publication => JSON.parse(lake.texts.get(publicationUri(request, dt))!);

  it('a publication record changed under it by another writer stops it with LedgerConflict; nothing more is sent', async () => {
    const lake = new MemoryLake();
    addGoldDay(lake, request, dt, 500);
    let theirs: string | undefined;
    // During the 5th call another writer replaces the day's record (as a second worker would).
    const inject = (_api: string, n: number) => {
      if (n === 5) {
        theirs = JSON.stringify({ ...record(lake), published_by: 'another-run', attempts: 7 });
        lake.texts.set(publicationUri(request, dt), theirs);
      }
      return undefined;
    };
    await withDouble({ inject }, async (double, store) => {
      const one = { ...options, maxInFlight: 1, initialInFlight: 1 };
      const failure = await rejectsFinal(
        ingestChunk(
          { lake, featureStore: store },
          { request, chunk, runId: 'run-1', ctx: { heartbeat: () => undefined, sleep }, options: one },
        ),
        'LedgerConflict',
        /publication\/rt_card_features_v1\/feature_version=v1\/dt=2025-10-01\.json changed under this writer/,
      );
      assert.match(failure.message, /expected [0-9a-f]{32}, found [0-9a-f]{32}/);
      assert.equal(double.stats.batchCalls, 5, 'no call after the one during which the record changed');
      assert.equal(double.written.length, 125);
      assert.equal(lake.texts.get(publicationUri(request, dt)), theirs, 'the other writer’s record stands');
    });
  });

  it('a one-day chunk keeps maxInFlight calls in flight (callers wait for the day being read instead of leaving)', async () => {
    const lake = new MemoryLake();
    addGoldDay(lake, request, dt, 500);
    await withDouble({ latencyMs: 20 }, async (double, store, calls) => {
      const four = { ...options, maxInFlight: 4, initialInFlight: 4 };
      await ingestChunk(
        { lake, featureStore: store },
        { request, chunk, runId: 'run-1', ctx: { heartbeat: () => undefined, sleep }, options: four },
      );
      const overlap = Math.max(...calls.map((c) => calls.filter((o) => o.start <= c.start && o.end! > c.start).length));
      assert.equal(overlap, 4, 'calls in flight at once');
      assert.equal(double.written.length, 500);
    });
  });

  it('a cancel stops taking batches: no call starts after it, calls in flight end and are recorded, then it fails as cancelled', async () => {
    const lake = new MemoryLake();
    addGoldDay(lake, request, dt, 5000, 1000);
    const env = new MockActivityEnvironment();
    let cancelAt = Infinity;
    const inject = (_api: string, n: number) => {
      if (n === 40) {
        cancelAt = performance.now();
        env.cancel();
      }
      return undefined;
    };
    await withDouble({ inject, latencyMs: 15 }, async (double, store, calls) => {
      const backends = {
        name: 'test',
        lake,
        featureStoreFor: () => store,
        ingestOptions: { baseDelayMs: 2, maxDelayMs: 50, maxInFlight: 4, initialInFlight: 4 },
      } as unknown as Backends;
      const ingest = createActivities(backends).ingestFeatures;
      await assert.rejects(env.run(ingest, { request, chunk, runId: 'run-1' }), CancelledFailure);
      const endedAt = performance.now();
      const atEnd = double.written.length;

      assert.ok(cancelAt < Infinity, 'the cancel was delivered');
      const late = calls.filter((c) => c.start > cancelAt);
      assert.deepEqual(late, [], 'no call started after the cancel');
      assert.ok(
        calls.every((c) => c.end !== undefined && c.end <= endedAt),
        'every call ended before the activity',
      );
      // Every call the client sent was answered before the activity ended: nothing can land later.
      assert.equal(double.stats.batchCalls, calls.length);
      assert.equal(double.written.length, atEnd);
      assert.ok(atEnd >= 40 * 25 - 4 * 25 && atEnd < 5000, `records in the store: ${atEnd}`);
      const pub = record(lake);
      assert.deepEqual(
        [pub.records_written, pub.status, pub.sending],
        [atEnd, 'in_progress', false],
        'the ledger covers exactly what the store holds',
      );
    });
  });

  it('a cancel during backoffs: the entries of batches given up part-way are counted, and the resume reports them', async () => {
    const lake = new MemoryLake();
    addGoldDay(lake, request, dt, 1500, 500);
    const env = new MockActivityEnvironment();
    const inject = (_api: string, n: number) => {
      if (n === 20) env.cancel();
      return undefined;
    };
    // Every other record unprocessed the first time, and backoffs long enough that batches wait in them
    // with half their entries taken.
    const odd = (r: Record<string, string>) => Number(r.event_id.split('-').pop()) % 2 === 1;
    await withDouble({ inject, latencyMs: 5, unprocessedFirstTime: odd }, async (double, store) => {
      const backends = {
        name: 'test',
        lake,
        featureStoreFor: () => store,
        ingestOptions: { baseDelayMs: 100, maxDelayMs: 400, maxInFlight: 4, initialInFlight: 4 },
      } as unknown as Backends;
      const ingest = createActivities(backends).ingestFeatures;
      await assert.rejects(env.run(ingest, { request, chunk, runId: 'run-1' }), CancelledFailure);
      const pub = record(lake);
      assert.equal(double.written.length, pub.records_written + pub.possible_duplicates, JSON.stringify(pub));

      const result = (await new MockActivityEnvironment().run(ingest, {
        request,
        chunk,
        runId: 'run-1',
      })) as IngestResult;
      const counts = double.writeCounts();
      const twice = [...counts.values()].filter((n) => n > 1).length;
      assert.equal(counts.size, 1500);
      assert.ok(twice <= result.possibleDuplicates!, `sent twice ${twice}, reported ${result.possibleDuplicates}`);
      assert.equal(record(lake).status, 'done');
    });
  });

  it('resumes a Spark publication left in_progress through the API: the whole day in API batches, its rows reported as possible duplicates', async () => {
    const lake = new MemoryLake();
    addGoldDay(lake, request, dt, 600);
    const commit = JSON.parse(lake.texts.get(goldCommitUri(request, dt))!) as GoldCommit;
    // What spark_jobs/card_features/offline_publish.py writes before moving the day's files.
    const spark: Publication = {
      dt,
      feature_group: request.featureGroup,
      feature_version: 'v1',
      published_by: 'run-0',
      published_with: 'spark',
      target_stores: ['OfflineStore'],
      gold_run_id: commit.run_id,
      gold_files: commit.files,
      records: 600,
      batch_size: 600,
      acked_prefix: 0,
      acked_ahead: [],
      records_written: 0,
      records_failed: 0,
      status: 'in_progress',
      sending: true,
      possible_duplicates: 0,
      attempts: 1,
      offline_files: [],
      spark_run_id: 'run-0',
      updated_at: '2025-10-02T00:00:00Z',
    };
    lake.texts.set(publicationUri(request, dt), JSON.stringify(spark));
    await withDouble({}, async (double, store) => {
      const result = await ingestChunk(
        { lake, featureStore: store },
        { request, chunk, runId: 'run-1', ctx: { heartbeat: () => undefined, sleep }, options },
      );
      const counts = double.writeCounts();
      assert.equal(counts.size, 600);
      assert.deepEqual(
        [...counts.values()].filter((n) => n !== 1),
        [],
        'every record sent once',
      );
      assert.equal(double.stats.batchCalls, 24, 'batches of 25');
      assert.equal(result.recordsWritten, 600);
      assert.equal(result.possibleDuplicates, 600, 'the day may be in the offline store twice');
      const pub = record(lake);
      assert.deepEqual(
        [pub.published_with, pub.batch_size, pub.status, pub.attempts, pub.possible_duplicates],
        ['api', 25, 'done', 2, 600],
      );
    });
  });
});
