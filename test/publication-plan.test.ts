/**
 * The publication plan (target stores and publisher per day), its input fields, and the stores'
 * TargetStores: the local SQLite store writes only the stores asked for, the AWS one sends them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalFeatureStore } from '../src/activities/local/feature-store';
import { onlineTtlDays } from '../src/activities/aws/preflight';
import { dryRunPublication } from '../src/activities/backfill/publication-estimate';
import { addDays, dateRange } from '../src/common/dates';
import { InputError, validateInput } from '../src/common/input';
import {
  dayPublisher,
  dayTargets,
  planPublication,
  publisherRefusal,
  sparkFormatProblem,
  type PlanOptions,
} from '../src/common/publication-plan';
import { formatPublication } from '../src/client/publication-report';
import { sparkPublishArgs, sparkPublishDates } from '../src/activities/spark/publish';
import type { DayState, GoldCommit, Publication } from '../src/activities/ledger/records';

const NOW = Date.parse('2026-11-26T10:00:00Z');
const TODAY = '2026-11-26';
const YEAR = { startDate: addDays(TODAY, -367), endDate: addDays(TODAY, -3), now: NOW };

function byTarget(o: PlanOptions, facts = { sparkPublish: true }) {
  const plan = planPublication(o, facts);
  const out: Record<string, string[]> = {};
  for (const dt of dateRange(o.startDate, o.endDate)) (out[dayTargets(plan, dt)] ??= []).push(dt);
  return { plan, out };
}

describe('publication plan', () => {
  it('a year with the default horizon: days older than 7 days offline only (by Spark), the last 5 days to both (API)', () => {
    const { plan, out } = byTarget(YEAR);
    assert.equal(plan.onlineFrom, '2026-11-19');
    assert.deepEqual([plan.horizonDays, plan.horizonSource, plan.offlineWith], [7, 'default', 'spark']);
    assert.equal(out.offline.length, 360);
    assert.deepEqual(out.both, dateRange('2026-11-19', '2026-11-23'));
    assert.equal(dayPublisher(plan, '2026-11-18'), 'spark');
    assert.equal(dayPublisher(plan, '2026-11-19'), 'api');
  });

  it("the feature group's online TTL is the horizon; the flag wins over it; 0 means no horizon", () => {
    assert.equal(byTarget(YEAR, { sparkPublish: true, onlineTtlDays: 30 } as never).plan.onlineFrom, '2026-10-27');
    const flag = byTarget({ ...YEAR, onlineHorizonDays: 2 }, { sparkPublish: true, onlineTtlDays: 30 } as never);
    assert.deepEqual([flag.plan.onlineFrom, flag.plan.horizonSource], ['2026-11-24', 'flag']);
    const none = byTarget({ ...YEAR, onlineHorizonDays: 0 });
    assert.deepEqual(Object.keys(none.out), ['both']);
    assert.equal(none.plan.offlineWith, 'api', 'no offline-only day: nothing for Spark');
  });

  it('--target-stores forces every day; --publish-with overrides the size rule', () => {
    assert.deepEqual(Object.keys(byTarget({ ...YEAR, targetStores: 'offline' }).out), ['offline']);
    assert.deepEqual(Object.keys(byTarget({ ...YEAR, targetStores: 'online' }).out), ['online']);
    const api = byTarget({ ...YEAR, publishWith: 'api' }).plan;
    assert.equal(dayPublisher(api, '2026-01-01'), 'api');
    // One offline-only day is below the size rule; a backend whose job cannot publish gets the API.
    const one = { startDate: '2026-11-18', endDate: '2026-11-20', now: NOW };
    assert.equal(byTarget(one).plan.offlineWith, 'api');
    assert.equal(byTarget(YEAR, { sparkPublish: false }).plan.offlineWith, 'api');
  });

  it('a request without a plan (a history from before it) sends every day to both stores through the API', () => {
    assert.equal(dayTargets(undefined, '2020-01-01'), 'both');
    assert.equal(dayPublisher(undefined, '2020-01-01'), 'api');
  });

  it('the dry run lists days per store and path with estimated times', () => {
    const plan = planPublication(YEAR, { sparkPublish: true });
    const states = dateRange(YEAR.startDate, YEAR.endDate).map((dt) => ({ dt, foreignFiles: [] }));
    // 1M events a day of bronze at the sample's 18 bytes per event.
    const bronze = Object.fromEntries(states.map((s) => [s.dt, 18_000_000]));
    const p = dryRunPublication(plan, states, bronze);
    assert.deepEqual([p.spark.days.length, p.api.days.length], [360, 5]);
    assert.deepEqual([p.spark.records, p.api.records], [360_000_000, 5_000_000]);
    assert.equal(p.api.seconds, 2_000);
    const text = formatPublication(p).join('\n');
    assert.match(text, /days before 2026-11-19 offline only \(horizon 7 days, from the default\)/);
    assert.match(text, /offline only: 2025-11-24\.\.2026-11-18 \(360 day\(s\)\)/);
    assert.match(
      text,
      /spark path .*360 day\(s\), ~360,000,000 records, est\. \d[\d.]* (s|min|h) at [\d,]+ records\/s/,
    );
    assert.match(text, /api path .*5 day\(s\), ~5,000,000 records, est\. 33 min/);
  });

  it('online TTL in any unit becomes whole days', () => {
    assert.equal(onlineTtlDays({ OnlineStoreConfig: { TtlDuration: { Unit: 'Hours', Value: 36 } } }), 2);
    assert.equal(onlineTtlDays({ OnlineStoreConfig: { TtlDuration: { Unit: 'Weeks', Value: 2 } } }), 14);
    assert.equal(onlineTtlDays({ OnlineStoreConfig: {} }), undefined);
  });
});

describe('publication input fields', () => {
  const base = { bucket: '/tmp/lake', startDate: '2025-10-01', endDate: '2025-10-07' };
  const refused = (extra: Record<string, unknown>, field: string, text: RegExp) =>
    assert.throws(
      () => validateInput({ ...base, ...extra }),
      (e: unknown) => e instanceof InputError && e.field === field && text.test(e.message),
    );

  it('accepts the fields and leaves them out when not given', () => {
    const r = validateInput({ ...base, onlineHorizonDays: 0, publishWith: 'spark' });
    assert.deepEqual([r.onlineHorizonDays, r.publishWith, r.targetStores], [0, 'spark', undefined]);
    assert.equal('onlineHorizonDays' in validateInput(base), false);
  });

  it('refuses bad values with the field named', () => {
    refused({ onlineHorizonDays: -1 }, 'onlineHorizonDays', /at least 0/);
    refused({ onlineHorizonDays: 1.5 }, 'onlineHorizonDays', /whole number/);
    refused({ onlineHorizonDays: 5000 }, 'onlineHorizonDays', /at most 3650/);
    refused({ targetStores: 'serving' }, 'targetStores', /one of offline, online, both, got "serving"/);
    refused({ publishWith: 'glue' }, 'publishWith', /one of spark, api/);
    refused({ targetStores: 'both', onlineHorizonDays: 3 }, 'targetStores', /either targetStores or onlineHorizonDays/);
    refused({ targetStores: 'online', publishWith: 'spark' }, 'publishWith', /offline store only/);
  });
});

describe('publication paths by the offline store table format', () => {
  it('Glue (SageMaker default, also when unset): the Spark path writes its layout; Iceberg: only the API', () => {
    assert.equal(sparkFormatProblem('Glue'), undefined);
    assert.equal(sparkFormatProblem(undefined), undefined);
    assert.match(sparkFormatProblem('Iceberg') ?? '', /Iceberg table.*Glue \(Hive\) layout.*Iceberg runtime/);
    assert.match(sparkFormatProblem('Delta') ?? '', /table format Delta/);
  });

  it('chooses the API for an Iceberg group by default, with the reason the dry run shows', () => {
    const plan = planPublication(YEAR, { sparkPublish: true, offlineTableFormat: 'Iceberg' });
    assert.equal(plan.offlineWith, 'api');
    assert.match(plan.offlineWithReason, /^offline store table format Iceberg: .*Glue \(Hive\) layout/);
    assert.equal(planPublication(YEAR, { sparkPublish: true, offlineTableFormat: 'Glue' }).offlineWith, 'spark');
    // The dry run's line carries the reason.
    const lines = formatPublication(dryRunPublication(plan, [], {}));
    assert.ok(
      lines.some((l) => /published by: api \(offline store table format Iceberg/.test(l)),
      lines.join('\n'),
    );
  });

  it('refuses --publish-with spark for an Iceberg group, naming the format and the flag; the API is always valid', () => {
    const facts = { sparkPublish: true, offlineTableFormat: 'Iceberg' };
    assert.match(
      publisherRefusal('spark', facts, 'g') ?? '',
      /^publishWith: --publish-with spark cannot publish feature group "g": its offline store table format is Iceberg; .*Use --publish-with api/,
    );
    assert.equal(publisherRefusal('api', facts, 'g'), undefined);
    assert.equal(publisherRefusal(undefined, facts, 'g'), undefined);
    assert.equal(publisherRefusal('spark', { sparkPublish: true, offlineTableFormat: 'Glue' }, 'g'), undefined);
  });
});

describe('TargetStores in the local store', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'target-stores-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const entry = (card: string, t: string) => ({
    FeatureGroupName: 'g',
    Record: [
      { FeatureName: 'card_id', ValueAsString: card },
      { FeatureName: 'event_time', ValueAsString: t },
    ],
  });

  it('writes only the stores asked for', async () => {
    const store = new LocalFeatureStore(path.join(dir, 'fs.db'));
    try {
      await store.batchWrite([entry('a', '2025-01-01T00:00:00Z')], 'offline');
      assert.deepEqual(store.counts('g'), { offline: 1, online: 0 });
      await store.batchWrite([entry('b', '2025-01-01T00:00:00Z')], 'online');
      assert.deepEqual(store.counts('g'), { offline: 1, online: 1 });
      await store.batchWrite([entry('c', '2025-01-01T00:00:00Z')]);
      assert.deepEqual(store.counts('g'), { offline: 2, online: 2 });
      assert.equal(store.getRecord('g', 'a'), undefined);
    } finally {
      store.close();
    }
  });
});

describe('days the Spark job publishes', () => {
  const plan = planPublication(
    { startDate: '2025-10-01', endDate: '2025-10-06', onlineHorizonDays: 2, now: Date.parse('2025-10-07T12:00:00Z') },
    { sparkPublish: true, offlineStore: 'sagemaker:arn:g' },
  );
  const request = {
    ...validateInput({ bucket: '/l', startDate: '2025-10-01', endDate: '2025-10-06' }),
    publication: plan,
  };
  const commit = (dt: string, rows = 10) => ({ dt, run_id: 'r', files: [`f-${dt}`], rows }) as GoldCommit;
  const pub = (dt: string, status: Publication['status']) =>
    ({ dt, gold_run_id: 'r', gold_files: [`f-${dt}`], status, published_with: 'spark' }) as Publication;
  const states: DayState[] = [
    { dt: '2025-10-01', foreignFiles: [] }, // computed now
    { dt: '2025-10-02', foreignFiles: [], commit: commit('2025-10-02'), publication: pub('2025-10-02', 'done') },
    // A job that died inside the day's move: redone even though its gold is kept.
    { dt: '2025-10-03', foreignFiles: [], commit: commit('2025-10-03'), publication: pub('2025-10-03', 'in_progress') },
    { dt: '2025-10-04', foreignFiles: [], commit: commit('2025-10-04', 0) }, // no rows: nothing to publish
    { dt: '2025-10-05', foreignFiles: [], commit: commit('2025-10-05') }, // within the horizon: the API's
    { dt: '2025-10-06', foreignFiles: [] },
  ];

  it("the plan's spark days computed now or without a done record of their current gold", () => {
    assert.equal(plan.onlineFrom, '2025-10-05');
    const days = sparkPublishDates(request, states, ['2025-10-01', '2025-10-06']);
    assert.deepEqual(days, ['2025-10-01', '2025-10-03']);
    assert.deepEqual(sparkPublishArgs(request, days), [
      '--offline-publish-dates',
      '2025-10-01,2025-10-03',
      '--offline-store',
      'sagemaker:arn:g',
    ]);
    assert.deepEqual(sparkPublishArgs(request, []), []);
  });
});
