/** Test lakes: a temp directory with generated bronze data (scripts/generate_sample_data.py). */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalLake } from '../../src/activities/local/lake';
import { ROOT, VENV_BIN } from './temporal';

export function makeSampleLake(opts: { start: string; days: number; eventsPerDay: number; cards: number; seed?: number }): string {
  const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-lake-'));
  execFileSync(path.join(VENV_BIN, 'python'), [
    path.join(ROOT, 'scripts', 'generate_sample_data.py'),
    '--lake', lake,
    '--start-date', opts.start,
    '--days', String(opts.days),
    '--events-per-day', String(opts.eventsPerDay),
    '--cards', String(opts.cards),
    '--seed', String(opts.seed ?? 7),
  ]);
  return lake;
}

/** Every gold row of a (version, dt) partition. */
export async function goldRows(lake: string, version: string, dt: string): Promise<Record<string, unknown>[]> {
  const local = new LocalLake();
  const rows: Record<string, unknown>[] = [];
  for (const f of await local.list(`file://${lake}/gold/card_features/feature_version=${version}/dt=${dt}`)) {
    if (f.uri.endsWith('.parquet')) rows.push(...(await local.readParquet(f.uri)));
  }
  return rows;
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
