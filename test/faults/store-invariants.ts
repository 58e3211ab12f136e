/**
 * Invariants of the feature store after a schedule, per feature group: every current gold row of a
 * published day is in the offline store (SQLite table and the Spark job's offline files), every
 * write of an event carries the current gold's values, records beyond one per event stay within what
 * the reports allow, the online store holds each card's latest record, and the reports' totals
 * match the store.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Publication } from '../../src/activities/ledger/records';
import { localFeatureStoreFile, LocalFeatureStore, offlineStoreDir } from '../../src/activities/local/feature-store';
import { readParquetRows } from '../../src/activities/parquet';
import type { BackfillReport } from '../../src/common/results';
import { FEATURES, type GoldDay } from './gold-invariants';
import { VERSION, type BackfillSpec } from './schedule';

/** A backfill run's report, with the spec it was started with. */
export interface RunReport {
  spec: BackfillSpec;
  report: BackfillReport;
}

interface OfflineWrite {
  id: string;
  values: number[];
}

function publications(lake: string, group: string): Publication[] {
  const dir = path.join(lake, '_ledger', 'publication', group, `feature_version=${VERSION}`);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^dt=.*\.json$/.test(f))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Publication);
}

const targets = (p: Publication) => p.target_stores ?? ['OnlineStore', 'OfflineStore'];

/** Data files under a directory, recursively, hidden ones (_staging, .crc) left out: what the local store counts. */
function parquetFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith('_') || e.name.startsWith('.')) return [];
    const full = path.join(dir, e.name);
    return e.isDirectory() ? parquetFiles(full) : e.name.endsWith('.parquet') ? [full] : [];
  });
}

/** Every offline write of a group: the API's (SQLite) and the Spark job's files (there may be no database). */
async function offlineWrites(
  lake: string,
  store: LocalFeatureStore | undefined,
  group: string,
): Promise<OfflineWrite[]> {
  const api: Record<string, unknown>[] = store?.offlineRecords(group) ?? [];
  const spark: Record<string, unknown>[] = [];
  const dir = path.join(offlineStoreDir(localFeatureStoreFile(lake), group), 'data');
  for (const file of parquetFiles(dir)) spark.push(...(await readParquetRows(fs.readFileSync(file))));
  return [...api, ...spark].map((r) => ({ id: String(r.event_id), values: FEATURES.map((f) => Number(r[f])) }));
}

function goldById(gold: Map<string, GoldDay>): Map<string, { dt: string; values: number[] }> {
  const out = new Map<string, { dt: string; values: number[] }>();
  for (const [dt, day] of gold) for (const [id, row] of day.rows) out.set(id, { dt, values: row.values });
  return out;
}

const same = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 1e-6);

function checkOffline(
  group: string,
  gold: Map<string, GoldDay>,
  pubs: Publication[],
  writes: OfflineWrite[],
): string[] {
  const problems: string[] = [];
  const present = new Set(writes.map((w) => w.id));
  for (const pub of pubs) {
    const day = gold.get(pub.dt);
    if (pub.status !== 'done' || !day || !targets(pub).includes('OfflineStore')) continue;
    const missing = [...day.rows.keys()].filter((id) => !present.has(id)).length;
    if (missing) problems.push(`${group} ${pub.dt}: ${missing} current gold rows not in the offline store`);
  }
  const byId = goldById(gold);
  const wrong = writes.filter((w) => byId.has(w.id) && !same(byId.get(w.id)!.values, w.values)).length;
  if (wrong) problems.push(`${group}: ${wrong} offline writes differ from the current gold`);
  const orphans = writes.filter((w) => !byId.has(w.id)).length;
  if (orphans) problems.push(`${group}: ${orphans} offline records of events no current gold holds`);
  return problems;
}

function checkOnline(
  group: string,
  gold: Map<string, GoldDay>,
  pubs: Publication[],
  store: LocalFeatureStore | undefined,
): string[] {
  const problems: string[] = [];
  const latest = new Map<string, number>();
  for (const pub of pubs) {
    const day = gold.get(pub.dt);
    const current = day && pub.gold_run_id === day.commit.run_id;
    if (pub.status !== 'done' || !current || !targets(pub).includes('OnlineStore')) continue;
    for (const row of day.rows.values()) latest.set(row.card, Math.max(latest.get(row.card) ?? 0, row.time));
  }
  const byId = goldById(gold);
  for (const [card, time] of latest) {
    const rec = store?.getRecord(group, card);
    const recTime = rec ? Date.parse(rec.event_time) / 1000 : undefined;
    if (!rec || recTime === undefined || recTime < time) {
      problems.push(`${group} online ${card}: holds ${rec?.event_time ?? 'nothing'}, gold has a later record`);
      continue;
    }
    const want = byId.get(rec.event_id);
    if (
      want &&
      !same(
        want.values,
        FEATURES.map((f) => Number(rec[f])),
      )
    )
      problems.push(`${group} online ${card}: values differ from the current gold of ${rec.event_id}`);
  }
  return problems;
}

/**
 * Records beyond one per event: allowed are the reports' "may be in the offline store twice" and
 * what overwrite runs published again (the offline store is append-only). The reports' records must
 * also account for every offline write (and no more than the possible duplicates beyond).
 */
function checkCounts(group: string, writes: OfflineWrite[], runs: RunReport[]): string[] {
  const mine = runs.filter((r) => r.spec.group === group);
  const sum = (f: (r: RunReport) => number) => mine.reduce((s, r) => s + f(r), 0);
  const possible = sum((r) => r.report.totals.possibleDuplicates ?? 0);
  const republished = sum((r) => (r.spec.overwrite ? r.report.totals.recordsIngested : 0));
  const reportedOffline = sum((r) => (r.spec.targetStores === 'online' ? 0 : r.report.totals.recordsIngested));
  const extra = writes.length - new Set(writes.map((w) => w.id)).size;
  const problems: string[] = [];
  if (extra > possible + republished)
    problems.push(
      `${group}: ${extra} records beyond one per event; reports allow ${possible} + ${republished} republished`,
    );
  if (writes.length < reportedOffline || writes.length > reportedOffline + possible)
    problems.push(
      `${group}: offline store holds ${writes.length} records, reports say ${reportedOffline} (+ up to ${possible})`,
    );
  return problems;
}

export async function checkStore(
  lake: string,
  groups: string[],
  gold: Map<string, GoldDay>,
  runs: RunReport[],
): Promise<string[]> {
  const file = localFeatureStoreFile(lake);
  // No database when only the Spark job published (or nothing was): its files are still counted.
  const store = fs.existsSync(file) ? new LocalFeatureStore(file) : undefined;
  const problems: string[] = [];
  try {
    for (const group of groups) {
      const pubs = publications(lake, group);
      const writes = await offlineWrites(lake, store, group);
      problems.push(...checkOffline(group, gold, pubs, writes));
      problems.push(...checkOnline(group, gold, pubs, store));
      problems.push(...checkCounts(group, writes, runs));
    }
  } finally {
    store?.close();
  }
  return problems;
}
