/**
 * The local backfill end to end: a real Temporal dev server, the real worker activities, real
 * spark-submit, the local catalog and feature store, on a generated lake.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { catalogUri, type CatalogFile } from '../src/activities/local/catalog';
import { createLocalBackends } from '../src/activities/local';
import type { LocalFeatureStore } from '../src/activities/local/feature-store';
import type { BackfillReport } from '../src/common/results';
import { backfillWorkflow } from '../src/workflows';
import { goldRows, makeSampleLake, openLakeStore } from './support/lake';
import { readBronzeEvents, referenceFeatures } from './support/reference-features';
import { startBackfillWorker, type RunningWorker } from './support/worker';
import { createDevServerEnv, ROOT, VENV_BIN } from './support/temporal';

describe('local backfill end to end (dev server + spark-submit)', function () {
  let env: TestWorkflowEnvironment;
  let lake: string;
  let state: string;
  let store: LocalFeatureStore;
  let worker: RunningWorker | undefined;
  const days = ['2025-10-01', '2025-10-02', '2025-10-03'];
  const input = () => ({
    bucket: lake,
    // Every day to both stores through the API: the tests read both tables of the SQLite store.
    onlineHorizonDays: 0,
    startDate: days[0],
    endDate: days[2],
    chunkSizeDays: 2,
    featureVersion: 'v1',
    maxConcurrentChunks: 2,
  });

  before(async () => {
    lake = makeSampleLake({ start: days[0], days: 3, eventsPerDay: 400, cards: 40 });
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-state-'));
    env = await createDevServerEnv();
    const backends = createLocalBackends({
      venvBin: VENV_BIN,
      jobDir: path.join(ROOT, 'spark_jobs'),
      stateDir: state,
      pollIntervalMs: 500,
    });
    store = openLakeStore(lake);
    worker = await startBackfillWorker(env, 'e2e-local', backends);
  });

  after(async () => {
    await worker?.stop();
    await env?.teardown();
    store?.close();
    fs.rmSync(lake, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  });

  const start = (workflowId: string, extra: Record<string, unknown> = {}) =>
    env.client.workflow.execute(backfillWorkflow, {
      args: [{ ...input(), ...extra }],
      taskQueue: 'e2e-local',
      workflowId,
    });

  let first: BackfillReport;

  it('writes gold for every day with the values an independent computation gives', async () => {
    first = await start('e2e-first');
    assert.equal(first.status, 'succeeded', JSON.stringify(first.chunks.map((c) => c.error)));
    assert.deepEqual(
      first.chunks.map((c) => c.chunk.id),
      ['2025-10-01_2025-10-02', '2025-10-03_2025-10-03'],
    );

    const expected = referenceFeatures(readBronzeEvents(lake), ['APPROVED', 'DECLINED']).filter((r) =>
      days.includes(r.dt),
    );
    const byId = new Map(expected.map((r) => [r.event_id, r]));
    let total = 0;
    for (const dt of days) {
      const rows = await goldRows(lake, 'v1', dt);
      assert.ok(rows.length > 300, `gold rows for ${dt}: ${rows.length}`);
      assert.equal(rows.length, expected.filter((r) => r.dt === dt).length, `row count for ${dt}`);
      for (const row of rows) {
        const want = byId.get(String(row.event_id));
        assert.ok(want, `unexpected event ${String(row.event_id)}`);
        assert.deepEqual(
          [
            row.card_id,
            Number(row.event_time),
            row.txn_count_1h,
            row.txn_count_24h,
            row.amount_sum_24h,
            row.merchant_count_24h,
          ],
          [
            want.card_id,
            want.event_time,
            want.txn_count_1h,
            want.txn_count_24h,
            want.amount_sum_24h,
            want.merchant_count_24h,
          ],
          `features of ${want.event_id}`,
        );
      }
      total += rows.length;
    }
    assert.equal(first.totals.rowsWritten, total);
    // Some events must have non-trivial windows, or the comparison above proves little.
    assert.ok(expected.some((r) => r.txn_count_1h >= 3 && r.merchant_count_24h >= 3));
  });

  it('ingests every gold row into the local feature store, online holding the latest per card', async () => {
    const expected = referenceFeatures(readBronzeEvents(lake), ['APPROVED', 'DECLINED']).filter((r) =>
      days.includes(r.dt),
    );
    const offline = store.offlineRecords('rt_card_features_v1');
    assert.equal(offline.length, expected.length);
    assert.equal(new Set(offline.map((r) => r.event_id)).size, expected.length, 'each event once');
    assert.equal(first.totals.recordsIngested, expected.length);
    const latest = new Map<string, (typeof expected)[number]>();
    for (const r of expected) {
      const cur = latest.get(r.card_id);
      if (!cur || r.event_time >= cur.event_time) latest.set(r.card_id, r);
    }
    assert.equal(store.counts('rt_card_features_v1').online, latest.size);
    for (const [card, want] of [...latest].slice(0, 10)) {
      const online = store.getRecord('rt_card_features_v1', card);
      assert.ok(online);
      assert.equal(online.event_time, new Date(want.event_time * 1000).toISOString().replace('.000Z', 'Z'));
      assert.equal(Number(online.txn_count_24h), want.txn_count_24h);
    }
    for (const chunk of first.chunks) assert.equal(chunk.validationOk, true, JSON.stringify(chunk.validationProblems));
  });

  it('registers the gold partitions in the local catalog', () => {
    const catalog = JSON.parse(fs.readFileSync(catalogUri(lake).slice('file://'.length), 'utf8')) as CatalogFile;
    const parts = catalog.tables['gold.card_features'].partitions.map((p) => `${p.feature_version}/${p.dt}`);
    assert.deepEqual(
      parts,
      days.map((d) => `v1/${d}`),
    );
  });

  it('a rerun without overwrite skips every partition and ingests nothing twice', async () => {
    const before = store.counts('rt_card_features_v1');
    const again = await start('e2e-rerun');
    assert.equal(again.status, 'succeeded');
    assert.deepEqual(
      again.chunks.flatMap((c) => c.skippedPartitions ?? []),
      days,
    );
    assert.equal(again.totals.recordsIngested, 0);
    assert.deepEqual(store.counts('rt_card_features_v1'), before);
  });

  it('a dry run reports the plan and writes nothing', async () => {
    const catalogBefore = fs.readFileSync(catalogUri(lake).slice('file://'.length), 'utf8');
    const countsBefore = store.counts('rt_card_features_v1');
    const report = await start('e2e-dry', { dryRun: true, endDate: '2025-10-05' });
    assert.equal(report.status, 'dry_run');
    assert.deepEqual(report.dryRun?.wouldSkip, days);
    assert.deepEqual(report.dryRun?.bronzeMissing, ['2025-09-30', '2025-10-05', '2025-10-06']);
    assert.equal(fs.readFileSync(catalogUri(lake).slice('file://'.length), 'utf8'), catalogBefore);
    assert.deepEqual(store.counts('rt_card_features_v1'), countsBefore);
  });
});
