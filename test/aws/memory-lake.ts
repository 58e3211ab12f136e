/**
 * An in-memory Lake holding generated gold rows, for ingest tests and the ingest benchmark: they
 * measure the path to the feature store, not parquet decoding (the S3 lake test covers that).
 */
import { createHash } from 'node:crypto';
import { LedgerConflictError, type Lake, type LakeObject, type WriteCondition } from '../../src/activities/backends';
import { goldCommitUri, type GoldCommit } from '../../src/activities/ledger/records';
import { goldPartition } from '../../src/activities/lake-paths';
import type { BackfillRequest } from '../../src/common/input';

export class MemoryLake implements Lake {
  readonly texts = new Map<string, string>();
  readonly parquet = new Map<string, Record<string, unknown>[]>();

  async readText(uri: string): Promise<string | undefined> {
    return this.texts.get(uri);
  }

  async writeText(uri: string, text: string): Promise<void> {
    this.texts.set(uri, text);
  }

  async readTextWithEtag(uri: string): Promise<{ text: string; etag: string } | undefined> {
    const text = this.texts.get(uri);
    return text === undefined ? undefined : { text, etag: md5(text) };
  }

  /** Checks and writes in one step of the event loop: as atomic as S3's conditional PutObject. */
  async writeTextIf(uri: string, text: string, condition: WriteCondition): Promise<string> {
    const current = this.texts.get(uri);
    const found = current === undefined ? 'absent' : md5(current);
    const expected = 'ifMatch' in condition ? condition.ifMatch : 'absent';
    if (found !== expected) throw new LedgerConflictError(uri, expected, found);
    this.texts.set(uri, text);
    return md5(text);
  }

  async list(prefixUri: string): Promise<LakeObject[]> {
    const prefix = prefixUri.replace(/\/+$/, '') + '/';
    return [...this.parquet.keys()]
      .filter((uri) => uri.startsWith(prefix))
      .sort()
      .map((uri) => ({ uri, size: this.parquet.get(uri)!.length }));
  }

  async delete(uris: string[]): Promise<void> {
    for (const uri of uris) this.parquet.delete(uri);
  }

  /** A copy of everything in the lake now: what a crashed worker leaves behind. */
  snapshot(): MemoryLake {
    const copy = new MemoryLake();
    for (const [k, v] of this.texts) copy.texts.set(k, v);
    for (const [k, v] of this.parquet) copy.parquet.set(k, v);
    return copy;
  }

  async readHead(uri: string, bytes: number): Promise<Buffer | undefined> {
    const text = this.texts.get(uri);
    return text === undefined ? undefined : Buffer.from(text).subarray(0, bytes);
  }

  async readParquet(uri: string): Promise<Record<string, unknown>[]> {
    const rows = this.parquet.get(uri);
    if (!rows) throw new Error(`no such file ${uri}`);
    return rows;
  }
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

const DAY = 86_400;

/**
 * Gold rows of one day, `perDay` of them, split into files of at most `perFile` rows, in a run's own
 * location and committed in the ledger, as the Spark job leaves them.
 */
export function addGoldDay(
  lake: MemoryLake,
  request: BackfillRequest,
  dt: string,
  perDay: number,
  perFile = 50_000,
  runId = 'run-1',
): void {
  const location = `${goldPartition(request, dt)}/run=${runId}`;
  const files: string[] = [];
  const base = Date.parse(`${dt}T00:00:00Z`) / 1000;
  for (let file = 0; file * perFile < perDay; file++) {
    const rows: Record<string, unknown>[] = [];
    for (let i = file * perFile; i < Math.min(perDay, (file + 1) * perFile); i++) {
      rows.push({
        card_id: `card_${i % 997}`,
        event_id: `${dt}-evt-${i}`,
        event_time: base + Math.floor((i * DAY) / perDay),
        txn_count_1h: 1 + (i % 3),
        txn_count_24h: 1 + (i % 17),
        amount_sum_24h: (i % 500) + 0.25,
        merchant_count_24h: 1 + (i % 5),
        feature_version: request.featureVersion,
      });
    }
    const uri = `${location}/part-${String(file).padStart(5, '0')}.parquet`;
    lake.parquet.set(uri, rows);
    files.push(uri);
  }
  const commit: GoldCommit = {
    dt,
    feature_version: request.featureVersion,
    run_id: runId,
    location,
    files,
    rows: perDay,
    code_revision: 'test',
    fingerprint: 'test',
    committed_at: new Date(0).toISOString(),
  };
  lake.texts.set(goldCommitUri(request, dt), JSON.stringify(commit));
}
