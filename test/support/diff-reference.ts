/**
 * An independent `backfill diff` over gold parquet files (hyparquet), to hold the Spark job's
 * figures against: the ledger's JSON read with fs, the files decoded in Node, every figure recomputed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readParquetRows } from '../../src/activities/parquet';

export type DayFiles = Record<string, string[]>;

/** Current gold files per day (`current`) or those of the run the last overwrite replaced (`previous`). */
export function ledgerFiles(lake: string, version: string, days: string[], kind: 'current' | 'previous'): DayFiles {
  const out: DayFiles = {};
  for (const dt of days) {
    const file = path.join(lake, '_ledger/gold/card_features', `feature_version=${version}`, `dt=${dt}.json`);
    const commit = JSON.parse(fs.readFileSync(file, 'utf8')) as { files: string[]; previous_location: string | null };
    if (kind === 'current') out[dt] = commit.files;
    else {
      const dir = commit.previous_location!.replace('file://', '');
      out[dt] = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.parquet'))
        .map((f) => `file://${dir}/${f}`);
    }
  }
  return out;
}

type Row = Record<string, unknown>;

async function readSide(files: DayFiles): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  for (const [dt, list] of Object.entries(files))
    for (const f of list)
      for (const row of await readParquetRows(fs.readFileSync(f.replace('file://', ''))))
        rows.set(`${dt}|${String(row.event_id)}`, { ...row, dt });
  return rows;
}

/** Exact percentile, linear interpolation at p * (n - 1) (Spark's `percentile`). */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

export function distribution(values: number[]) {
  const sorted = [...values].sort((x, y) => x - y);
  return {
    count: values.length,
    mean: values.length ? values.reduce((s, v) => s + v, 0) / values.length : null,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    max: values.length ? sorted[sorted.length - 1] : null,
  };
}

export interface RefFigures {
  rows_a: number;
  rows_b: number;
  only_a: number;
  only_b: number;
  both: number;
  features: Record<string, { changed: number; changed_share: number; a: object; b: object; change: object }>;
}

function figures(a: Row[], b: Row[], bothPairs: [Row, Row][], features: string[]): RefFigures {
  const out: RefFigures = {
    rows_a: a.length,
    rows_b: b.length,
    only_a: a.length - bothPairs.length,
    only_b: b.length - bothPairs.length,
    both: bothPairs.length,
    features: {},
  };
  for (const f of features) {
    const changed = bothPairs.filter(([x, y]) => Number(x[f]) !== Number(y[f])).length;
    out.features[f] = {
      changed,
      changed_share: bothPairs.length ? changed / bothPairs.length : 0,
      a: distribution(a.map((r) => Number(r[f]))),
      b: distribution(b.map((r) => Number(r[f]))),
      change: distribution(bothPairs.map(([x, y]) => Math.abs(Number(y[f]) - Number(x[f])))),
    };
  }
  return out;
}

export async function referenceDiff(aFiles: DayFiles, bFiles: DayFiles, features: string[]) {
  const a = await readSide(aFiles);
  const b = await readSide(bFiles);
  const pairs: [Row, Row][] = [...a.entries()].filter(([k]) => b.has(k)).map(([k, r]) => [r, b.get(k)!]);
  const days = [...new Set([...Object.keys(aFiles), ...Object.keys(bFiles)])].sort();
  const byDay = days.map((dt) => ({
    dt,
    ...figures(
      [...a.values()].filter((r) => r.dt === dt),
      [...b.values()].filter((r) => r.dt === dt),
      pairs.filter(([x]) => x.dt === dt),
      features,
    ),
  }));
  const changedByCard = new Map<string, number>();
  for (const [x, y] of pairs)
    if (features.some((f) => Number(x[f]) !== Number(y[f])))
      changedByCard.set(String(y.card_id), (changedByCard.get(String(y.card_id)) ?? 0) + 1);
  return { days: byDay, total: figures([...a.values()], [...b.values()], pairs, features), changedByCard };
}
