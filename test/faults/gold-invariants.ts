/**
 * Invariants of the lake after a schedule: every committed (version, day) is what the catalog
 * serves, its files exist, one row per event, and its rows equal a one-pass computation over the
 * same bronze (test/support/reference-features.ts); bronze is unchanged.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GoldCommit } from '../../src/activities/ledger/records';
import { fileUriToPath } from '../../src/activities/lake-paths';
import { LocalLake } from '../../src/activities/local/lake';
import type { CatalogFile } from '../../src/activities/local/catalog';
import { readBronzeEvents, referenceFeatures, type ReferenceRow } from '../support/reference-features';
import { VERSION } from './schedule';

/** The features compared, in one order. */
export const FEATURES = ['txn_count_1h', 'txn_count_24h', 'amount_sum_24h', 'merchant_count_24h'] as const;

export interface GoldDay {
  commit: GoldCommit;
  /** event_id -> the row's feature values (FEATURES order) and card/time. */
  rows: Map<string, { card: string; time: number; values: number[] }>;
}

export function bronzeHash(lake: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else hash.update(path.relative(lake, full)).update(fs.readFileSync(full));
    }
  };
  walk(path.join(lake, 'bronze'));
  return hash.digest('hex');
}

/** The one-pass reference, by day then event id (v1 counts every authorization). */
export function reference(lake: string): Map<string, Map<string, ReferenceRow>> {
  const byDay = new Map<string, Map<string, ReferenceRow>>();
  for (const r of referenceFeatures(readBronzeEvents(lake), ['APPROVED', 'DECLINED'])) {
    if (!byDay.has(r.dt)) byDay.set(r.dt, new Map());
    byDay.get(r.dt)!.set(r.event_id, r);
  }
  return byDay;
}

export function goldCommits(lake: string): GoldCommit[] {
  const dir = path.join(lake, '_ledger', 'gold', 'card_features', `feature_version=${VERSION}`);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^dt=.*\.json$/.test(f))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as GoldCommit);
}

function catalogLocations(lake: string): Map<string, string> {
  const file = path.join(lake, '_catalog', 'catalog.json');
  const out = new Map<string, string>();
  if (!fs.existsSync(file)) return out;
  const catalog = JSON.parse(fs.readFileSync(file, 'utf8')) as CatalogFile;
  for (const p of catalog.tables['gold.card_features']?.partitions ?? [])
    if (p.feature_version === VERSION) out.set(p.dt, p.location);
  return out;
}

async function readDay(commit: GoldCommit, problems: string[]): Promise<GoldDay> {
  const rows: GoldDay['rows'] = new Map();
  const lake = new LocalLake();
  for (const file of commit.files) {
    if (!fs.existsSync(fileUriToPath(file))) {
      problems.push(`gold ${commit.dt}: committed file missing: ${file}`);
      continue;
    }
    for (const row of await lake.readParquet(file)) {
      const id = String(row.event_id);
      if (rows.has(id)) problems.push(`gold ${commit.dt}: event ${id} more than once`);
      const values = FEATURES.map((f) => Number(row[f]));
      rows.set(id, { card: String(row.card_id), time: Number(row.event_time), values });
    }
  }
  return { commit, rows };
}

function compareWithReference(day: GoldDay, want: Map<string, ReferenceRow>, problems: string[]): void {
  const dt = day.commit.dt;
  if (day.rows.size !== want.size) problems.push(`gold ${dt}: ${day.rows.size} rows, the reference has ${want.size}`);
  let wrong = 0;
  for (const [id, got] of day.rows) {
    const ref = want.get(id);
    const expected = ref ? FEATURES.map((f) => ref[f]) : undefined;
    if (!expected || expected.some((v, i) => Math.abs(v - got.values[i]) > 1e-6)) wrong++;
  }
  if (wrong) problems.push(`gold ${dt}: ${wrong} rows differ from the reference`);
}

/** Checks every committed day; returns the current gold by day (for the store checks) and the problems. */
export async function checkGold(
  lake: string,
  ref: Map<string, Map<string, ReferenceRow>>,
): Promise<{ gold: Map<string, GoldDay>; problems: string[] }> {
  const problems: string[] = [];
  const gold = new Map<string, GoldDay>();
  const catalog = catalogLocations(lake);
  for (const commit of goldCommits(lake)) {
    const served = catalog.get(commit.dt);
    if (commit.rows > 0 && served !== commit.location)
      problems.push(`catalog ${commit.dt}: serves ${served ?? 'nothing'}, the ledger committed ${commit.location}`);
    if (commit.rows === 0 && served) problems.push(`catalog ${commit.dt}: serves ${served} for a day with no rows`);
    const day = await readDay(commit, problems);
    if (day.rows.size !== commit.rows)
      problems.push(`gold ${commit.dt}: commit says ${commit.rows} rows, its files hold ${day.rows.size}`);
    compareWithReference(day, ref.get(commit.dt) ?? new Map(), problems);
    gold.set(commit.dt, day);
  }
  for (const dt of catalog.keys())
    if (!gold.has(dt)) problems.push(`catalog ${dt}: a partition no gold commit backs (${catalog.get(dt)})`);
  return { gold, problems };
}
