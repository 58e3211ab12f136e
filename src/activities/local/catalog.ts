/**
 * The local stand-in for the Glue Data Catalog: a JSON file listing the gold table's partitions
 * and their locations (each day's current gold, from the ledger), replaced atomically.
 */
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { CatalogResult } from '../../common/results';
import { LedgerConflictError, type Catalog, type Lake } from '../backends';
import { dateRange } from '../../common/dates';
import { lakePath } from '../../common/lake-contract';
import { lakeRoot } from '../lake-paths';
import { currentLocation, readDayState } from '../ledger/records';

export interface CatalogPartition {
  feature_version: string;
  dt: string;
  location: string;
  files: number;
  bytes: number;
}

export interface CatalogFile {
  tables: Record<string, { location: string; partitionKeys: string[]; partitions: CatalogPartition[] }>;
  updatedAt: string;
}

const GOLD_TABLE_NAME = 'gold.card_features';

/** Replaces of the catalog file lost to other workers before a refresh gives up. */
const MAX_CATALOG_TRIES = 20;

/** The local catalog file of a lake (contract.json local_catalog). */
export function catalogUri(bucket: string): string {
  return lakePath('local_catalog', { root: lakeRoot(bucket) });
}

export class LocalCatalog implements Catalog {
  // One refresh at a time in this worker: chunks finishing together must not lose each other's update.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly lake: Lake) {}

  refresh(request: BackfillRequest, chunk: ChunkSpec, goldTableUri: string): Promise<CatalogResult> {
    const next = this.queue.then(() => this.crawl(request, chunk, goldTableUri));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Points each of the chunk's (version, day) partitions at the day's current gold, as the ledger
   * has it, in one atomic replace of the catalog file: readers see the old location or the new.
   * The replace is conditional on the version read: a worker that updated the file meanwhile (other
   * chunks, other backfills) is not overwritten; its update is read and this one applied on top.
   */
  private async crawl(request: BackfillRequest, chunk: ChunkSpec, goldTableUri: string): Promise<CatalogResult> {
    const uri = catalogUri(request.bucket);
    for (let attempt = 1; ; attempt++) {
      const read = await this.lake.readTextWithEtag(uri);
      const current: CatalogFile = JSON.parse(read?.text ?? '{"tables":{}}');
      const mine = await this.update(current, request, chunk, goldTableUri);
      const condition = read ? { ifMatch: read.etag } : ({ ifNoneMatch: '*' } as const);
      try {
        await this.lake.writeTextIf(uri, JSON.stringify(current, null, 2), condition);
        return { backend: 'local', partitions: mine, status: 'SUCCEEDED' };
      } catch (err) {
        // Bounded: each lost race means another worker's update landed, so this ends unless dozens write at once.
        if (!(err instanceof LedgerConflictError) || attempt >= MAX_CATALOG_TRIES) throw err;
      }
    }
  }

  /** Sets the chunk's partitions in `current`; returns the days that have one. */
  private async update(
    current: CatalogFile,
    request: BackfillRequest,
    chunk: ChunkSpec,
    goldTableUri: string,
  ): Promise<string[]> {
    const table = current.tables[GOLD_TABLE_NAME] ?? {
      location: goldTableUri,
      partitionKeys: ['feature_version', 'dt'],
      partitions: [],
    };
    const mine: string[] = [];
    for (const dt of dateRange(chunk.startDate, chunk.endDate)) {
      const state = await readDayState(this.lake, request, dt);
      const location = currentLocation(state, request);
      table.partitions = table.partitions.filter((p) => !(p.feature_version === request.featureVersion && p.dt === dt));
      if (!location) continue;
      const files = state.commit ? state.commit.files : state.foreignFiles;
      const sizes = new Map((await this.lake.list(location)).map((f) => [f.uri, f.size]));
      table.partitions.push({
        feature_version: request.featureVersion,
        dt,
        location,
        files: files.length,
        bytes: files.reduce((s, f) => s + (sizes.get(f) ?? 0), 0),
      });
      mine.push(dt);
    }
    table.partitions.sort((a, b) => (a.feature_version + a.dt).localeCompare(b.feature_version + b.dt));
    current.tables[GOLD_TABLE_NAME] = table;
    current.updatedAt = new Date().toISOString();
    return mine;
  }
}
