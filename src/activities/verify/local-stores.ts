/**
 * The local feature store as `backfill verify` reads it: the SQLite database (API writes, online
 * and offline) and the Spark job's offline files beside it (offline_publish.py), opened read-only.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { offlineStoreDir } from '../local/feature-store';
import { readParquetRows } from '../parquet';
import type { FeatureValue } from '../backends';
import type { OfflineRow, OfflineStoreReader, OnlineStoreReader } from './types';

function toMap(record: FeatureValue[]): Record<string, string> {
  return Object.fromEntries(record.map((f) => [f.FeatureName, f.ValueAsString]));
}

/** A parquet value as the string the API path would have written. */
function asString(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function dataFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('_') && !e.name.startsWith('.'))
    .flatMap((e) =>
      e.isDirectory() ? dataFiles(path.join(dir, e.name)) : e.name.endsWith('.parquet') ? [path.join(dir, e.name)] : [],
    )
    .sort();
}

export class LocalStoreReader implements OfflineStoreReader, OnlineStoreReader {
  constructor(private readonly storeFile: string) {}

  describe(): string {
    return `local store ${this.storeFile} (offline_store table) and the Spark offline files beside it`;
  }

  private db(): Database.Database | undefined {
    return fs.existsSync(this.storeFile) ? new Database(this.storeFile, { readonly: true }) : undefined;
  }

  async rows(q: {
    featureGroup: string;
    featureVersion: string;
    startDate: string;
    endDate: string;
  }): Promise<OfflineRow[]> {
    const out: OfflineRow[] = [];
    const inRange = (values: Record<string, string>) => {
      const dt = values.event_time?.slice(0, 10) ?? '';
      return values.feature_version === q.featureVersion && dt >= q.startDate && dt <= q.endDate;
    };
    const db = this.db();
    if (db) {
      try {
        const rows = db
          .prepare(
            'SELECT record, write_time FROM offline_store WHERE feature_group = ? AND substr(event_time, 1, 10) BETWEEN ? AND ? ORDER BY seq',
          )
          .all(q.featureGroup, q.startDate, q.endDate) as { record: string; write_time: string }[];
        for (const r of rows) {
          const values = toMap(JSON.parse(r.record) as FeatureValue[]);
          if (inRange(values)) out.push({ values, writeTime: r.write_time });
        }
      } finally {
        db.close();
      }
    }
    for (const file of dataFiles(path.join(offlineStoreDir(this.storeFile, q.featureGroup), 'data'))) {
      for (const row of await readParquetRows(fs.readFileSync(file))) {
        const values = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, asString(v)]));
        if (inRange(values)) out.push({ values, writeTime: asString(row.write_time) });
      }
    }
    return out;
  }

  async records(featureGroup: string, cardIds: string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    const db = this.db();
    if (!db) return out;
    try {
      const get = db.prepare('SELECT record FROM online_store WHERE feature_group = ? AND record_id = ?');
      for (const id of cardIds) {
        const row = get.get(featureGroup, id) as { record: string } | undefined;
        if (row) out.set(id, toMap(JSON.parse(row.record) as FeatureValue[]));
      }
    } finally {
      db.close();
    }
    return out;
  }
}
