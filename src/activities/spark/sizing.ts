/**
 * Self-healing chunks, third part: Spark settings per chunk from the bronze bytes it will read,
 * after the tuning table of the guide this project replaces (small, medium, large). Each backend
 * brings its table (Backends.sparkSizes); the request's sparkConf wins over the table.
 */
import { addDays, dateRange } from '../../common/dates';
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { SparkSettings } from '../../common/results';
import type { Lake, SizeTier, SizingTable } from '../backends';
import { bronzePartition } from '../lake-paths';

const GiB = 1024 ** 3;

/**
 * Where the tiers start, in compressed bronze bytes a chunk reads (its days, the lookback day
 * before, the lateness days after). Below 10 GiB two executors finish in minutes (about what the
 * original table gave a chunk of a few days); from 50 GiB (a month of days like that) the windows'
 * shuffle needs the large tier's memory and partitions.
 */
export const SIZE_THRESHOLDS = { medium: 10 * GiB, large: 50 * GiB } as const;

export function sizeTier(bronzeBytes: number): SizeTier {
  if (bronzeBytes >= SIZE_THRESHOLDS.large) return 'large';
  if (bronzeBytes >= SIZE_THRESHOLDS.medium) return 'medium';
  return 'small';
}

/** The arrival days of bronze a chunk's job reads: the dry run and the job count the same ones. */
export function bronzeDaysRead(request: Pick<BackfillRequest, 'allowedLatenessDays'>, chunk: ChunkSpec): string[] {
  return dateRange(addDays(chunk.startDate, -1), addDays(chunk.endDate, request.allowedLatenessDays));
}

/** Bytes of the bronze a chunk reads, from per-day sizes (a dry run's bronzePresent). */
export function bronzeBytesFrom(
  request: Pick<BackfillRequest, 'allowedLatenessDays'>,
  chunk: ChunkSpec,
  perDay: Record<string, number>,
): number {
  return bronzeDaysRead(request, chunk).reduce((sum, dt) => sum + (perDay[dt] ?? 0), 0);
}

/** Bytes of the bronze a chunk reads, listed from the lake (S3 ListObjectsV2 pages, or the lake directory). */
export async function bronzeBytesOf(lake: Lake, request: BackfillRequest, chunk: ChunkSpec): Promise<number> {
  let total = 0;
  for (const dt of bronzeDaysRead(request, chunk)) {
    for (const f of await lake.list(bronzePartition(request, dt))) total += f.size;
  }
  return total;
}

/** The tier's settings with the request's sparkConf on top; no tier when the backend has no table. */
export function chunkSettings(
  table: SizingTable | undefined,
  bronzeBytes: number,
  sparkConf: Record<string, string>,
): SparkSettings {
  if (!table) return { bronzeBytes, conf: { ...sparkConf } };
  const tier = sizeTier(bronzeBytes);
  return { tier, bronzeBytes, conf: { ...table[tier], ...sparkConf } };
}

/** A short account of settings, e.g. `4 x 8g executors, 100 partitions` or `driver 2g, 4 partitions`. */
export function describeSettings(conf: Record<string, string>): string {
  const parts: string[] = [];
  const executors = conf['spark.executor.instances'];
  if (executors && conf['spark.executor.memory'])
    parts.push(`${executors} x ${conf['spark.executor.memory']} executors`);
  else if (conf['spark.driver.memory']) parts.push(`driver ${conf['spark.driver.memory']}`);
  if (conf['spark.sql.shuffle.partitions']) parts.push(`${conf['spark.sql.shuffle.partitions']} partitions`);
  return parts.join(', ');
}
