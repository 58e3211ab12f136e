/**
 * The local stand-in for the Glue Data Catalog: a JSON file listing the gold table's partitions,
 * rebuilt from what is on disk (what a crawler does), written atomically.
 */
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { CatalogResult } from '../../common/results';
import type { Catalog, Lake } from '../backends';
import { lakeRoot } from '../lake-paths';

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

export const GOLD_TABLE_NAME = 'gold.card_features';

export function catalogUri(bucket: string): string {
  return `${lakeRoot(bucket)}/_catalog/catalog.json`;
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

  private async crawl(request: BackfillRequest, chunk: ChunkSpec, goldTableUri: string): Promise<CatalogResult> {
    const files = await this.lake.list(goldTableUri);
    const partitions = new Map<string, CatalogPartition>();
    for (const f of files) {
      const m = /\/feature_version=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\//.exec(f.uri);
      if (!m || !f.uri.endsWith('.parquet')) continue;
      const key = `${m[1]}/${m[2]}`;
      const p = partitions.get(key) ?? {
        feature_version: m[1],
        dt: m[2],
        location: `${goldTableUri}/feature_version=${m[1]}/dt=${m[2]}`,
        files: 0,
        bytes: 0,
      };
      p.files += 1;
      p.bytes += f.size;
      partitions.set(key, p);
    }
    const uri = catalogUri(request.bucket);
    const current: CatalogFile = JSON.parse((await this.lake.readText(uri)) ?? '{"tables":{}}');
    current.tables[GOLD_TABLE_NAME] = {
      location: goldTableUri,
      partitionKeys: ['feature_version', 'dt'],
      partitions: [...partitions.values()].sort((a, b) => (a.feature_version + a.dt).localeCompare(b.feature_version + b.dt)),
    };
    current.updatedAt = new Date().toISOString();
    await this.lake.writeText(uri, JSON.stringify(current, null, 2));
    const mine = [...partitions.values()]
      .filter((p) => p.feature_version === request.featureVersion && p.dt >= chunk.startDate && p.dt <= chunk.endDate)
      .map((p) => p.dt);
    return { backend: 'local', partitions: mine, status: 'SUCCEEDED' };
  }
}
