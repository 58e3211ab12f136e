/**
 * Both publication paths on a real local backfill (dev server, spark-submit, the SQLite store and
 * the offline store's layout): over a range longer than the online horizon, old days go offline
 * only through the Spark job and recent days to both stores through the API, each record exactly
 * once; and a year's dry run shows which days go where and how long each path would take.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createLocalBackends } from '../src/activities/local';
import { LocalLake } from '../src/activities/local/lake';
import { publicationUri, type Publication } from '../src/activities/ledger/records';
import { addDays, dateRange } from '../src/common/dates';
import type { BackfillReport } from '../src/common/results';
import { backfillWorkflow } from '../src/workflows';
import { goldRows, makeSampleLake, openLakeStore, requestFor } from './support/lake';
import { startBackfillWorker, type RunningWorker } from './support/worker';
import { createDevServerEnv, ROOT, VENV_BIN } from './support/temporal';

const GROUP = 'rt_card_features_v1';
const TODAY = new Date().toISOString().slice(0, 10);
// Four days ending at the last complete one (lateness 1): with a 4-day horizon two go offline only.
const DAYS = dateRange(addDays(TODAY, -6), addDays(TODAY, -3));
const OFFLINE_DAYS = DAYS.slice(0, 2);
const BOTH_DAYS = DAYS.slice(2);

describe('publication paths on a real local backfill', function () {
  let env: TestWorkflowEnvironment;
  let lake: string;
  let state: string;
  let worker: RunningWorker | undefined;
  let backends: ReturnType<typeof createLocalBackends>;
  const local = new LocalLake();

  before(async () => {
    // The four days plus the lateness day after them.
    lake = makeSampleLake({ start: DAYS[0], days: 5, eventsPerDay: 400, cards: 30, seed: 11 });
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-publish-'));
    env = await createDevServerEnv();
    backends = createLocalBackends({
      venvBin: VENV_BIN,
      jobDir: path.join(ROOT, 'spark_jobs'),
      stateDir: state,
      pollIntervalMs: 300,
    });
    worker = await startBackfillWorker(env, 'publish-paths', backends);
  });

  after(async () => {
    await worker?.stop();
    await env?.teardown();
    backends?.featureStores.close();
    fs.rmSync(lake, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  });

  const run = (workflowId: string, extra: Record<string, unknown>): Promise<BackfillReport> =>
    env.client.workflow.execute(backfillWorkflow, {
      args: [{ bucket: lake, featureVersion: 'v1', maxConcurrentChunks: 1, ...extra }],
      taskQueue: 'publish-paths',
      workflowId,
    });

  async function publication(dt: string): Promise<Publication> {
    return JSON.parse((await local.readText(publicationUri(requestFor(lake), dt)))!) as Publication;
  }

  it('a year dry run shows which days go where and the estimated time of each path', async () => {
    const report = await run('publish-year-dry', {
      startDate: addDays(TODAY, -367),
      endDate: addDays(TODAY, -3),
      chunkSizeDays: 30,
      dryRun: true,
    });
    const p = report.dryRun!.publication!;
    assert.equal(p.plan?.onlineFrom, addDays(TODAY, -7), 'local store: no TTL, the 7-day default');
    assert.deepEqual([p.stores.offline.length, p.stores.both.length, p.stores.online.length], [360, 5, 0]);
    assert.deepEqual([p.spark.days.length, p.api.days.length], [360, 5]);
    // Bronze only for the sample's (recent) days: their records are estimated from its size, the rest have none.
    assert.deepEqual([p.spark.records, p.api.records > 0, p.api.seconds >= 0], [0, true, true]);
    const day = report.dryRun!.days!.find((d) => d.dt === addDays(TODAY, -100))!;
    assert.deepEqual([day.stores, day.publishWith], ['offline', 'spark']);
    assert.deepEqual([report.dryRun!.days!.at(-1)!.stores, report.dryRun!.days!.at(-1)!.publishWith], ['both', 'api']);
    assert.equal(fs.existsSync(path.join(lake, '_feature_store')), false, 'a dry run writes no store');
  });

  it('old days go offline only through Spark, recent days to both through the API, each record exactly once', async () => {
    const report = await run('publish-paths', {
      startDate: DAYS[0],
      endDate: DAYS.at(-1),
      chunkSizeDays: 4,
      onlineHorizonDays: 4,
    });
    assert.equal(report.status, 'succeeded', JSON.stringify(report.chunks.map((c) => [c.error, c.validationProblems])));
    const gold: Record<string, string[]> = {};
    for (const dt of DAYS) gold[dt] = (await goldRows(lake, 'v1', dt)).map((r) => String(r.event_id)).sort();
    const store = openLakeStore(lake);
    try {
      const sparkIds = (await store.sparkOfflineRecords(GROUP)).map((r) => String(r.event_id)).sort();
      const apiOffline = store.offlineRecords(GROUP);
      assert.deepEqual(sparkIds, OFFLINE_DAYS.flatMap((d) => gold[d]).sort(), 'old days: once, in the offline layout');
      assert.deepEqual(
        apiOffline.map((r) => r.event_id).sort(),
        BOTH_DAYS.flatMap((d) => gold[d]).sort(),
        'recent days: once, in the offline table through the API',
      );
      // The online store holds the latest record per card, from the recent days only.
      const cards = new Set(
        BOTH_DAYS.flatMap((d) => apiOffline.filter((r) => r.event_time.startsWith(d))).map((r) => r.card_id),
      );
      assert.equal(store.counts(GROUP).online, cards.size);
      for (const card of cards) assert.ok(BOTH_DAYS.includes(store.getRecord(GROUP, card)!.event_time.slice(0, 10)));
      const counts = await store.allCounts(GROUP);
      assert.equal(
        counts.offline,
        DAYS.reduce((s, d) => s + gold[d].length, 0),
      );
    } finally {
      store.close();
    }
    for (const dt of OFFLINE_DAYS) {
      const p = await publication(dt);
      assert.deepEqual(
        [p.published_with, p.target_stores, p.status, p.records_written],
        ['spark', ['OfflineStore'], 'done', gold[dt].length],
      );
    }
    for (const dt of BOTH_DAYS) {
      const p = await publication(dt);
      assert.deepEqual([p.published_with, p.target_stores, p.status], ['api', ['OnlineStore', 'OfflineStore'], 'done']);
    }
    assert.equal(
      report.totals.recordsIngested,
      DAYS.reduce((s, d) => s + gold[d].length, 0),
      'both paths credited',
    );
    assert.equal(report.chunks[0].validationOk, true);
  });
});
