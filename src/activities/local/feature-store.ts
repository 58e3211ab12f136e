/**
 * A local feature store with SageMaker Feature Store's write semantics, in SQLite:
 * the offline store keeps every record written (append-only), the online store keeps, per record
 * identifier, the record with the latest event time (an older record goes to offline only); a
 * write names its TargetStores. The Spark job's offline publications are parquet files in the
 * offline store's layout beside the database (offlineStoreDir), counted with it.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackfillRequest } from '../../common/input';
import { FEATURE_GROUP_KEYS, lakePath } from '../../common/lake-contract';
import type { BatchWriteOutcome, FeatureStore, FeatureValue, RecordEntry } from '../backends';
import type { TargetStoresChoice } from '../../common/publication-plan';
import { fileUriToPath, lakeRoot } from '../lake-paths';
import { readParquetRows } from '../parquet';

export interface FeatureGroupSpec {
  recordIdentifier: string;
  eventTime: string;
}

// The contract's record identifier and event time (contract.json feature_group).
const CARD_FEATURES: FeatureGroupSpec = FEATURE_GROUP_KEYS;

export class LocalFeatureStore implements FeatureStore {
  private readonly db: Database.Database;

  constructor(
    private readonly file: string,
    private readonly groupSpec: (group: string) => FeatureGroupSpec = () => CARD_FEATURES,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    // WAL and a busy timeout let several worker processes share one store.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS offline_store (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        feature_group TEXT NOT NULL, record_id TEXT NOT NULL, event_time TEXT NOT NULL,
        record TEXT NOT NULL, write_time TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS offline_by_record ON offline_store (feature_group, record_id);
      CREATE TABLE IF NOT EXISTS online_store (
        feature_group TEXT NOT NULL, record_id TEXT NOT NULL, event_time TEXT NOT NULL, record TEXT NOT NULL,
        PRIMARY KEY (feature_group, record_id));`);
  }

  async batchWrite(entries: RecordEntry[], targets: TargetStoresChoice = 'both'): Promise<BatchWriteOutcome> {
    if (entries.length < 1 || entries.length > 25) {
      throw new Error(`ValidationException: a batch takes 1 to 25 entries, got ${entries.length}`);
    }
    const errors: BatchWriteOutcome['errors'] = [];
    const now = new Date().toISOString();
    const insertOffline = this.db.prepare(
      'INSERT INTO offline_store (feature_group, record_id, event_time, record, write_time) VALUES (?, ?, ?, ?, ?)',
    );
    // ISO-8601 UTC strings of one format compare in time order.
    const upsertOnline = this.db.prepare(`
      INSERT INTO online_store (feature_group, record_id, event_time, record) VALUES (?, ?, ?, ?)
      ON CONFLICT (feature_group, record_id) DO UPDATE SET event_time = excluded.event_time, record = excluded.record
      WHERE excluded.event_time >= online_store.event_time`);
    this.db.transaction(() => {
      entries.forEach((entry, index) => {
        const spec = this.groupSpec(entry.FeatureGroupName);
        const id = value(entry.Record, spec.recordIdentifier);
        const eventTime = value(entry.Record, spec.eventTime);
        if (id === undefined || eventTime === undefined) {
          errors.push({
            index,
            code: 'ValidationError',
            message: `record lacks ${spec.recordIdentifier} or ${spec.eventTime}`,
          });
          return;
        }
        const record = JSON.stringify(entry.Record);
        // TargetStores: each store is written only when asked for, as BatchWriteRecord does.
        if (targets !== 'online') insertOffline.run(entry.FeatureGroupName, id, eventTime, record, now);
        if (targets !== 'offline') upsertOnline.run(entry.FeatureGroupName, id, eventTime, record);
      });
    })();
    return { errors, unprocessed: [] };
  }

  /** The online record of an identifier, as a name -> value map. */
  getRecord(group: string, recordId: string): Record<string, string> | undefined {
    const row = this.db
      .prepare('SELECT record FROM online_store WHERE feature_group = ? AND record_id = ?')
      .get(group, recordId) as { record: string } | undefined;
    return row ? toMap(JSON.parse(row.record)) : undefined;
  }

  /** Every offline record of a group, in write order. */
  offlineRecords(group: string): Record<string, string>[] {
    const rows = this.db
      .prepare('SELECT record FROM offline_store WHERE feature_group = ? ORDER BY seq')
      .all(group) as { record: string }[];
    return rows.map((r) => toMap(JSON.parse(r.record)));
  }

  /**
   * Offline records the Spark job published (offline_publish.py): parquet files in the offline
   * store's layout beside the database, with SageMaker's extra columns (write_time, is_deleted, ...).
   */
  async sparkOfflineRecords(group: string): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    for (const file of parquetFiles(path.join(offlineStoreDir(this.file, group), 'data')))
      rows.push(...(await readParquetRows(fs.readFileSync(file))));
    return rows;
  }

  /** Offline records by who wrote them (API, Spark job) and online records. */
  async allCounts(
    group: string,
  ): Promise<{ offlineApi: number; offlineSpark: number; offline: number; online: number }> {
    const { offline, online } = this.counts(group);
    const spark = (await this.sparkOfflineRecords(group)).length;
    return { offlineApi: offline, offlineSpark: spark, offline: offline + spark, online };
  }

  counts(group: string): { offline: number; online: number } {
    const offline = this.db.prepare('SELECT COUNT(*) AS n FROM offline_store WHERE feature_group = ?').get(group) as {
      n: number;
    };
    const online = this.db.prepare('SELECT COUNT(*) AS n FROM online_store WHERE feature_group = ?').get(group) as {
      n: number;
    };
    return { offline: offline.n, online: online.n };
  }

  close(): void {
    this.db.close();
  }
}

function value(record: FeatureValue[], name: string): string | undefined {
  return record.find((f) => f.FeatureName === name)?.ValueAsString;
}

function toMap(record: FeatureValue[]): Record<string, string> {
  return Object.fromEntries(record.map((f) => [f.FeatureName, f.ValueAsString]));
}

/**
 * The Spark job's offline store of a group (offline_publish.local_store_root): beside the database,
 * where contract.json's local_offline_store is relative to its local_feature_store.
 */
export function offlineStoreDir(storeFile: string, group: string): string {
  const beside = path.posix.relative(
    path.posix.dirname(lakePath('local_feature_store', { root: '' })),
    lakePath('local_offline_store', { root: '', group }),
  );
  return path.join(path.dirname(storeFile), beside);
}

/** Data files under a directory, recursively; hidden ones (_staging, .crc) left out. */
function parquetFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('_') || e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...parquetFiles(full));
    else if (e.name.endsWith('.parquet')) out.push(full);
  }
  return out.sort();
}

/** The local store of a lake: a file inside it, so every local worker serving the lake writes to the same one. */
export function localFeatureStoreFile(bucket: string): string {
  return fileUriToPath(lakePath('local_feature_store', { root: lakeRoot(bucket) }));
}

/** One store per lake, opened on the first write (a dry run leaves no store file behind). */
export class LocalFeatureStores {
  private readonly stores = new Map<string, LocalFeatureStore>();

  forRequest(request: BackfillRequest): FeatureStore {
    const file = localFeatureStoreFile(request.bucket);
    return {
      batchWrite: (entries, targets) => {
        let store = this.stores.get(file);
        if (!store) this.stores.set(file, (store = new LocalFeatureStore(file)));
        return store.batchWrite(entries, targets);
      },
    };
  }

  close(): void {
    for (const store of this.stores.values()) store.close();
    this.stores.clear();
  }
}
