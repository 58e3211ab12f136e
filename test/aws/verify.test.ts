/**
 * `backfill verify` against AWS's wire protocols: gold published by the real ingestion through the
 * SDK into a Feature Store double that keeps its stores, the offline store read back with an Athena
 * query (the Athena double runs the SQL, and pages its results), the online store with BatchGetRecord.
 */
import * as assert from 'node:assert/strict';
import { AthenaClient } from '@aws-sdk/client-athena';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { SageMakerFeatureStore } from '../../src/activities/aws/feature-store';
import { ingestChunk } from '../../src/activities/ingest/chunk';
import { AthenaOfflineReader } from '../../src/activities/verify/athena';
import { FeatureStoreOnlineReader } from '../../src/activities/verify/online-aws';
import { verifyPublication } from '../../src/activities/verify/receipt';
import { main } from '../../src/client/cli';
import { validateInput } from '../../src/common/input';
import { fakeIo } from '../cli/support';
import { AthenaDouble } from './athena-double';
import { FeatureStoresDouble } from './feature-store-stores-double';
import { addGoldDay, MemoryLake } from './memory-lake';

const creds = { accessKeyId: 'test', secretAccessKey: 'test' };
const TABLE = 'sagemaker_featurestore.rt_card_features_v1_1764000000';
const PER_DAY = 1500;
const COLUMNS = [
  ['card_id', 'TEXT'],
  ['event_id', 'TEXT'],
  ['event_time', 'TEXT'],
  ['txn_count_1h', 'INTEGER'],
  ['txn_count_24h', 'INTEGER'],
  ['amount_sum_24h', 'REAL'],
  ['merchant_count_24h', 'INTEGER'],
  ['feature_version', 'TEXT'],
  ['write_time', 'TEXT'],
  ['api_invocation_time', 'TEXT'],
  ['is_deleted', 'INTEGER'],
].map(([name, type]) => ({ name, type }));

describe('backfill verify on AWS (Athena and Feature Store doubles)', () => {
  const stores = new FeatureStoresDouble();
  const request = validateInput({
    bucket: 'lake-bucket',
    startDate: '2025-10-01',
    endDate: '2025-10-02',
    allowIncompleteDays: true,
    targetStores: 'both',
    publishWith: 'api',
  });
  const lake = new MemoryLake();
  const athena = new AthenaDouble({
    pollsBeforeDone: 3,
    tables: {
      [TABLE]: {
        columns: COLUMNS,
        // SageMaker's offline table: the record's features, write_time (UTC, no zone), is_deleted.
        rows: () =>
          stores.offline.map((r) => ({
            ...r.values,
            write_time: r.writeTime.replace('Z', ''),
            api_invocation_time: r.writeTime.replace('Z', ''),
            is_deleted: 0,
          })),
      },
    },
  });
  let athenaClient: AthenaClient;
  let fsClient: SageMakerFeatureStoreRuntimeClient;

  before(async () => {
    await stores.start();
    await athena.start();
    const region = 'us-east-1';
    athenaClient = new AthenaClient({ region, endpoint: athena.endpoint, credentials: creds });
    fsClient = new SageMakerFeatureStoreRuntimeClient({
      region,
      endpoint: stores.endpoint,
      credentials: creds,
      maxAttempts: 1,
    });
    for (const dt of ['2025-10-01', '2025-10-02']) addGoldDay(lake, request, dt, PER_DAY);
    const chunk = { index: 0, id: '2025-10-01_2025-10-02', startDate: '2025-10-01', endDate: '2025-10-02', days: 2 };
    await ingestChunk(
      { lake, featureStore: new SageMakerFeatureStore(fsClient, { log: () => undefined }) },
      { request, chunk, runId: 'run-1', ctx: { heartbeat: () => undefined, sleep: async () => undefined } },
    );
  });
  after(async () => {
    await athena.stop();
    await stores.stop();
  });

  const receipt = (sampleCards = 150) =>
    verifyPublication({
      lake,
      request,
      offline: new AthenaOfflineReader(athenaClient, {
        database: 'sagemaker_featurestore',
        table: TABLE.split('.')[1],
        pollMs: 1,
      }),
      online: new FeatureStoreOnlineReader(fsClient),
      sampleCards,
    });

  it('a clean publication: one query waited on and paged, 150 cards in two BatchGetRecord calls, no difference', async () => {
    const r = await receipt();
    assert.equal(r.differences, 0, JSON.stringify(r.days.map((d) => d.problems)));
    assert.deepEqual(
      r.days.map((d) => [d.gold_rows, d.offline.events_since_commit, d.missing, d.extra_copies, d.stale]),
      [
        [PER_DAY, PER_DAY, 0, 0, 0],
        [PER_DAY, PER_DAY, 0, 0, 0],
      ],
    );
    const q = athena.queries.at(-1)!;
    assert.match(q.sql, /feature_version = 'v1'/);
    assert.equal(q.polls, 4); // QUEUED, RUNNING x2, SUCCEEDED
    assert.equal(q.resultPages, Math.ceil((2 * PER_DAY + 1) / 1000)); // the header row is on the first page
    assert.deepEqual(stores.getCalls, [100, 50]);
    assert.deepEqual([r.online.sampled, r.online.matched], [150, 150]);
    assert.match(r.offline_source, new RegExp(`query ${q.id}`));
  });

  it('counts what the stores lost or hold twice, and a wrong online record', async () => {
    const day2 = stores.offline.filter((r) => r.values.event_time.startsWith('2025-10-02'));
    for (const r of day2.slice(0, 4)) stores.offline.splice(stores.offline.indexOf(r), 1);
    stores.offline.push({ ...day2[10], writeTime: new Date().toISOString() });
    const key = [...stores.online.keys()].sort()[0];
    stores.online.set(
      key,
      stores.online.get(key)!.map((f) => (f.FeatureName === 'merchant_count_24h' ? { ...f, ValueAsString: '99' } : f)),
    );
    const r = await receipt();
    const d2 = r.days[1];
    assert.deepEqual([d2.missing, d2.extra_copies, d2.duplicates_beyond_bound, d2.stale], [4, 1, 1, 0]);
    assert.deepEqual(r.days[0].problems, []);
    assert.deepEqual(
      r.online.differences.map((d) => d.card_id),
      [key.split('|')[1]],
    );
    assert.match(r.online.differences[0].problem, /^merchant_count_24h 99 != /);
    assert.equal(r.differences, 2);
  });

  it("names Athena's reason when the query fails (a table that does not exist)", async () => {
    const reader = new AthenaOfflineReader(athenaClient, {
      database: 'sagemaker_featurestore',
      table: 'nope',
      pollMs: 1,
    });
    await assert.rejects(
      reader.rows({ featureVersion: 'v1', startDate: '2025-10-01', endDate: '2025-10-02' }),
      /Athena query .* FAILED: TABLE_NOT_FOUND: .*nope' does not exist/,
    );
  });

  it('the CLI refuses --aws without the offline store table (exit 2)', async () => {
    const io = fakeIo();
    const code = await main(
      ['verify', '--aws', '--bucket', 'lake-bucket', '--start-date', '2025-10-01', '--end-date', '2025-10-02'],
      io,
    );
    assert.equal(code, 2);
    assert.match(io.stderr(), /--aws needs --athena-table DATABASE.TABLE/);
  });
});
