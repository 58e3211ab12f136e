/**
 * The API path spreads its writes over record identifiers: gold laid out by card would hit one
 * card with whole batches, over the online store's 500 writes/s per identifier (modelled by the
 * Feature Store double); interleaved, no card goes over its share. Also: TargetStores on the wire.
 */
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import * as assert from 'node:assert/strict';
import { SageMakerFeatureStore } from '../../src/activities/aws/feature-store';
import { DEFAULT_INGEST_OPTIONS, ingestChunk } from '../../src/activities/ingest/chunk';
import { interleaveRecordIds } from '../../src/activities/ingest/send';
import { planPublication } from '../../src/common/publication-plan';
import { FeatureStoreDouble } from './feature-store-double';
import { addGoldDay, MemoryLake } from './memory-lake';
import { FAKE_CREDENTIALS, REGION } from './moto';
import { awsRequest, firstChunk } from './support';

const DAY = '2025-10-01';
const CARDS = 40;
const PER_CARD = 100;

/** One day of gold laid out by card, as the Spark job writes it: each card's rows together. */
function goldByCard(request: ReturnType<typeof awsRequest>): MemoryLake {
  const lake = new MemoryLake();
  addGoldDay(lake, request, DAY, CARDS * PER_CARD, 1_000);
  for (const rows of lake.parquet.values())
    for (const row of rows)
      row.card_id = `card_${Math.floor(Number(String(row.event_id).split('-evt-')[1]) / PER_CARD)}`;
  return lake;
}

async function ingestWithDouble(request: ReturnType<typeof awsRequest>) {
  const double = new FeatureStoreDouble({ perRecordWritesPerSecond: 500 });
  await double.start();
  try {
    const client = new SageMakerFeatureStoreRuntimeClient({
      region: REGION,
      endpoint: double.endpoint,
      credentials: FAKE_CREDENTIALS,
      maxAttempts: 1,
    });
    const result = await ingestChunk(
      { lake: goldByCard(request), featureStore: new SageMakerFeatureStore(client) },
      {
        request,
        chunk: firstChunk(request),
        ctx: { heartbeat: () => undefined, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
        options: DEFAULT_INGEST_OPTIONS,
      },
    );
    return { double, result };
  } finally {
    await double.stop();
  }
}

describe('aws: the API path spreads writes over record identifiers (Feature Store double)', function () {
  it('interleaves cards: one row of each card in turn, in order of first appearance, deterministic', () => {
    const rows = ['a', 'a', 'a', 'b', 'c', 'c'].map((recordId, i) => ({ recordId, i }));
    assert.deepEqual(
      interleaveRecordIds(rows).map((r) => r.i),
      [0, 3, 4, 1, 5, 2],
    );
  });

  it('gold laid out by card: every record once, none refused by the 500 writes/s per-identifier limit', async () => {
    const request = awsRequest({ startDate: DAY, endDate: DAY });
    const { double, result } = await ingestWithDouble(request);
    assert.equal(double.stats.recordThrottled, 0, 'no card over its share');
    assert.equal(double.writeCounts().size, CARDS * PER_CARD);
    assert.ok([...double.writeCounts().values()].every((n) => n === 1));
    assert.equal(result.recordsWritten, CARDS * PER_CARD);
    // Both stores: TargetStores is left out (the API's default).
    assert.ok(double.written.every((w) => w.targetStores === undefined));
  });

  it('offline-only days are sent with TargetStores [OfflineStore]', async () => {
    const base = awsRequest({ startDate: DAY, endDate: DAY });
    const publication = planPublication(
      { ...base, targetStores: 'offline', publishWith: 'api', now: Date.now() },
      {
        sparkPublish: false,
      },
    );
    const { double } = await ingestWithDouble({ ...base, publication });
    assert.equal(double.writeCounts().size, CARDS * PER_CARD);
    assert.ok(double.written.every((w) => w.targetStores?.join() === 'OfflineStore'));
  });

  it('PutRecord (where the batch API is refused) sends TargetStores too', async () => {
    const double = new FeatureStoreDouble({ refuseBatch: { status: 400, code: 'UnknownOperationException' } });
    await double.start();
    try {
      const store = new SageMakerFeatureStore(
        new SageMakerFeatureStoreRuntimeClient({
          region: REGION,
          endpoint: double.endpoint,
          credentials: FAKE_CREDENTIALS,
          maxAttempts: 1,
        }),
        { log: () => undefined },
      );
      const entry = (id: string) => ({
        FeatureGroupName: 'g',
        Record: [
          { FeatureName: 'card_id', ValueAsString: 'c' },
          { FeatureName: 'event_id', ValueAsString: id },
        ],
      });
      await store.batchWrite([entry('a'), entry('b')], 'offline');
      await store.batchWrite([entry('c')]);
      assert.equal(store.mode, 'put');
      assert.deepEqual(
        double.written.map((w) => [w.eventId, w.api, w.targetStores?.join()]),
        [
          ['a', 'PutRecord', 'OfflineStore'],
          ['b', 'PutRecord', 'OfflineStore'],
          ['c', 'PutRecord', undefined],
        ],
      );
    } finally {
      await double.stop();
    }
  });
});
