/** Test lakes: a temp directory with generated bronze data (scripts/generate_sample_data.py). */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalLake } from '../../src/activities/local/lake';
import { LocalFeatureStore, localFeatureStoreFile } from '../../src/activities/local/feature-store';
import { readDayState } from '../../src/activities/ledger/records';
import { DEFAULT_PREFIXES, type BackfillRequest } from '../../src/common/input';
import { ROOT, VENV_BIN } from './temporal';

export function makeSampleLake(opts: {
  start: string;
  days: number;
  eventsPerDay: number;
  cards: number;
  seed?: number;
}): string {
  const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-lake-'));
  execFileSync(path.join(VENV_BIN, 'python'), [
    path.join(ROOT, 'scripts', 'generate_sample_data.py'),
    '--lake',
    lake,
    '--start-date',
    opts.start,
    '--days',
    String(opts.days),
    '--events-per-day',
    String(opts.eventsPerDay),
    '--cards',
    String(opts.cards),
    '--seed',
    String(opts.seed ?? 7),
  ]);
  return lake;
}

/** Every row of a (version, dt) partition's current gold, as readers see it (the ledger's commit, or foreign files). */
export async function goldRows(lake: string, version: string, dt: string): Promise<Record<string, unknown>[]> {
  const local = new LocalLake();
  const state = await readDayState(local, requestFor(lake, version), dt);
  const rows: Record<string, unknown>[] = [];
  for (const f of state.commit ? state.commit.files : state.foreignFiles) rows.push(...(await local.readParquet(f)));
  return rows;
}

/** Just enough of a request to address a lake's ledger (paths depend on bucket, version and group). */
export function requestFor(
  lake: string,
  version = 'v1',
  featureGroup = `rt_card_features_${version}`,
): BackfillRequest {
  return { bucket: lake, featureVersion: version, featureGroup, prefixes: DEFAULT_PREFIXES } as BackfillRequest;
}

/** The lake's local feature store (opened read-write; close it). */
export function openLakeStore(lake: string): LocalFeatureStore {
  return new LocalFeatureStore(localFeatureStoreFile(lake));
}

/** Names and sizes of the files of a folder tree, to compare before and after. */
export function snapshot(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out[path.relative(dir, full)] = fs.statSync(full).size;
    }
  };
  walk(dir);
  return out;
}
