/**
 * `backfill verify` on the local backend: gold built by the real feature job, published by the real
 * ingestion into the lake's SQLite store, then the stores damaged in known ways; the receipt must
 * count exactly those.
 */
import * as assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ingestChunk } from '../src/activities/ingest/chunk';
import { LocalFeatureStores, localFeatureStoreFile } from '../src/activities/local/feature-store';
import { LocalLake } from '../src/activities/local/lake';
import type { VerifyReceipt } from '../src/activities/verify/types';
import { main } from '../src/client/cli';
import { validateInput } from '../src/common/input';
import { fakeIo } from './cli/support';
import { buildGold } from './support/gold-builds';
import { makeSampleLake } from './support/lake';

const START = '2025-10-01';
const END = '2025-10-02';

async function verify(lake: string, extra: string[] = []) {
  const io = fakeIo();
  const out = path.join(lake, 'receipt.json');
  const code = await main(
    ['verify', '--bucket', lake, '--start-date', START, '--end-date', END, '--out', out, ...extra],
    io,
  );
  return { code, io, receipt: JSON.parse(fs.readFileSync(out, 'utf8')) as VerifyReceipt };
}

describe('backfill verify (local store)', function () {
  this.timeout(600_000); // one feature job on a shared two-core machine
  let lake: string;
  let db: Database.Database;
  let commitAt: Record<string, string>;

  before(async () => {
    lake = makeSampleLake({ start: START, days: 2, eventsPerDay: 200, cards: 15, seed: 5 });
    await buildGold({ lake, version: 'v1', start: START, end: END, runId: 'run-1' });
    const request = validateInput({
      bucket: lake,
      startDate: START,
      endDate: END,
      allowIncompleteDays: true,
      targetStores: 'both',
      publishWith: 'api',
    });
    const stores = new LocalFeatureStores();
    const chunk = { index: 0, id: `${START}_${END}`, startDate: START, endDate: END, days: 2 };
    await ingestChunk(
      { lake: new LocalLake(), featureStore: stores.forRequest(request) },
      { request, chunk, runId: 'run-1', ctx: { heartbeat: () => undefined, sleep: async () => undefined } },
    );
    stores.close();
    commitAt = {};
    for (const dt of [START, END]) {
      const f = path.join(lake, '_ledger/gold/card_features/feature_version=v1', `dt=${dt}.json`);
      commitAt[dt] = (JSON.parse(fs.readFileSync(f, 'utf8')) as { committed_at: string }).committed_at;
    }
    db = new Database(localFeatureStoreFile(lake));
  });
  after(() => db?.close());

  it('a clean publication: every day and every sampled card agrees, exit 0', async () => {
    const { code, io, receipt } = await verify(lake, ['--sample-cards', '10']);
    assert.equal(code, 0, io.stdout());
    assert.equal(receipt.differences, 0);
    const rows = db
      .prepare('SELECT substr(event_time, 1, 10) AS dt, COUNT(*) AS n FROM offline_store GROUP BY 1 ORDER BY 1')
      .all() as { dt: string; n: number }[];
    assert.deepEqual(
      receipt.days.map((d) => [
        d.dt,
        d.gold_rows,
        d.ledger?.records_written,
        d.offline.events_since_commit,
        d.missing,
        d.extra_copies,
        d.stale,
      ]),
      rows.map((r) => [r.dt, r.n, r.n, r.n, 0, 0, 0]),
    );
    assert.deepEqual([receipt.online.sampled, receipt.online.matched], [10, 10]);
    assert.match(io.stdout(), /receipt: the stores hold what the ledger says/);
  });

  it('counts missing events, copies beyond the bound, stale latest writes and a wrong online record (exit 1)', async () => {
    const day1 = db
      .prepare(
        'SELECT seq, record, record_id, event_time FROM offline_store WHERE substr(event_time, 1, 10) = ? ORDER BY seq',
      )
      .all(START) as { seq: number; record: string; record_id: string; event_time: string }[];
    const later = new Date(Date.now() + 60_000).toISOString();
    const before = new Date(Date.parse(commitAt[START]) - 3_600_000).toISOString();
    const insert = db.prepare(
      'INSERT INTO offline_store (feature_group, record_id, event_time, record, write_time) VALUES (?, ?, ?, ?, ?)',
    );
    // 3 events lost, 2 written twice (same values), 1 written again with another value (a stale latest write).
    for (const r of day1.slice(0, 3)) db.prepare('DELETE FROM offline_store WHERE seq = ?').run(r.seq);
    for (const r of day1.slice(3, 5)) insert.run('rt_card_features_v1', r.record_id, r.event_time, r.record, later);
    const changed = (JSON.parse(day1[5].record) as { FeatureName: string; ValueAsString: string }[]).map((f) =>
      f.FeatureName === 'txn_count_1h' ? { ...f, ValueAsString: String(Number(f.ValueAsString) + 7) } : f,
    );
    insert.run('rt_card_features_v1', day1[5].record_id, day1[5].event_time, JSON.stringify(changed), later);
    // History an overwrite leaves (written before the commit, other values) is neither a copy nor stale.
    insert.run('rt_card_features_v1', day1[6].record_id, day1[6].event_time, JSON.stringify(changed), before);
    // One online record with another amount.
    const online = db.prepare('SELECT record_id, record FROM online_store ORDER BY record_id LIMIT 1').get() as {
      record_id: string;
      record: string;
    };
    const wrong = (JSON.parse(online.record) as { FeatureName: string; ValueAsString: string }[]).map((f) =>
      f.FeatureName === 'amount_sum_24h' ? { ...f, ValueAsString: '0.01' } : f,
    );
    db.prepare('UPDATE online_store SET record = ? WHERE record_id = ?').run(JSON.stringify(wrong), online.record_id);

    const { code, io, receipt } = await verify(lake, ['--sample-cards', '15']);
    assert.equal(code, 1, io.stdout());
    const [d1, d2] = receipt.days;
    assert.deepEqual(
      [d1.missing, d1.extra_copies, d1.duplicates_beyond_bound, d1.stale, d1.not_in_gold, d1.offline.rows],
      [3, 3, 3, 1, 0, day1.length - 3 + 2 + 1 + 1],
    );
    assert.equal(d1.offline.events_since_commit, day1.length - 3);
    assert.deepEqual(d2.problems, []);
    assert.equal(receipt.online.sampled, 15);
    assert.deepEqual(receipt.online.differences, [
      {
        card_id: online.record_id,
        problem: `amount_sum_24h 0.01 != ${wrong.length && (JSON.parse(online.record) as { FeatureName: string; ValueAsString: string }[]).find((f) => f.FeatureName === 'amount_sum_24h')!.ValueAsString}`,
      },
    ]);
    assert.equal(receipt.differences, 2);
    assert.match(io.stdout(), /3 gold events missing from the offline store/);
  });
});
