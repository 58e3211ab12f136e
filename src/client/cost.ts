/**
 * Estimated EMR Serverless cost of a backfill, from a dry run's bronze sizes and the Spark
 * configuration each chunk would get. Pure: no I/O, so it is unit-tested and its model documented.
 *
 * Model (docs/guide.md "Estimating cost"):
 * - Each chunk is one job run. Its workers are the driver plus spark.executor.instances executors,
 *   sized by the bronze bytes the chunk reads from the EMR tuning table (the worker's own: SPARK_SIZES
 *   in src/activities/aws/spark-sizes.ts, tiers picked by src/activities/spark/sizing.ts, as the
 *   Spark activity sizes the EMR run), with the request's sparkConf on top. All workers are assumed to live for the whole run
 *   (dynamic allocation is not modelled).
 * - Run time = fixed overhead (Spark start, planning, writing gold and the manifest) + the
 *   compressed bronze the chunk reads / (assumed throughput per executor core * executor cores).
 *   A chunk reads its own days plus the lookback day before and the lateness days after; a chunk
 *   with no day to process (all skipped or without bronze) reads nothing and costs the overhead.
 * - Each worker is billed for at least minBilledSeconds (EMR Serverless bills at least one minute).
 * - Billed memory per worker = spark memory + overhead (spark.*.memoryOverhead, or Spark's default
 *   of 10% with at least 384 MiB), rounded up to a whole GB as EMR Serverless sizes workers.
 * - Not modelled: ephemeral storage beyond the free 20 GB per worker, pre-initialized capacity,
 *   job start latency (not billed), S3 requests, Glue crawler and Feature Store charges.
 */
import { SPARK_SIZES } from '../activities/aws/spark-sizes';
import type { SizeTier } from '../activities/backends';
import { bronzeBytesFrom, chunkSettings, sizeTier } from '../activities/spark/sizing';
import { dateRange } from '../common/dates';
import type { ChunkSpec } from '../common/plan';
import type { DryRunPlan } from '../common/results';

export interface UnitPrices {
  /** USD per vCPU-hour. */
  vcpuHour: number;
  /** USD per GB-hour of memory. */
  gbHour: number;
}

/** EMR Serverless list prices, us-east-1, x86_64 (ARM/Graviton is about 20% cheaper). Override per region. */
export const DEFAULT_PRICES: UnitPrices = { vcpuHour: 0.052624, gbHour: 0.0057785 };

export interface CostAssumptions {
  /** Compressed (gzip NDJSON) bronze one executor core gets through per second, in MiB. */
  mibPerCoreSecond: number;
  /** Per job run: Spark session start, planning, writing gold and the manifest. */
  overheadSeconds: number;
  /** The least a worker is billed for. */
  minBilledSeconds: number;
}

export const DEFAULT_ASSUMPTIONS: CostAssumptions = { mibPerCoreSecond: 2, overheadSeconds: 90, minBilledSeconds: 60 };

export interface WorkerShape {
  vcpus: number;
  memoryGb: number;
}

export interface ChunkCostInput {
  chunk: ChunkSpec;
  /** Compressed bronze bytes the chunk's job reads. */
  inputBytes: number;
  /** False when every day of the chunk would be skipped or has no bronze: the job reads nothing. */
  processes: boolean;
}

export interface ChunkCost {
  chunkId: string;
  size: SizeTier;
  inputBytes: number;
  driver: WorkerShape;
  executor: WorkerShape;
  executors: number;
  runSeconds: number;
  billedSeconds: number;
  vcpuHours: number;
  gbHours: number;
  usd: number;
}

export interface CostEstimate {
  chunks: ChunkCost[];
  vcpuHours: number;
  gbHours: number;
  usd: number;
  inputBytes: number;
  prices: UnitPrices;
  assumptions: CostAssumptions;
}

/** Spark memory settings ("8g", "512m", "16384k", plain bytes) in GB (GiB; EMR counts GB the same way). */
export function memoryGb(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)b?$/i.exec(value.trim());
  if (!m) throw new Error(`not a Spark memory size: "${value}" (e.g. 8g, 512m)`);
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  const perGb = { '': 1024 ** 3, k: 1024 ** 2, m: 1024, g: 1, t: 1 / 1024 }[unit]!;
  return n / perGb;
}

/** The memory a worker is billed for: heap plus overhead, rounded up to a whole GB. */
export function billedMemoryGb(memory: string, overhead: string | undefined): number {
  const heap = memoryGb(memory);
  const extra =
    overhead !== undefined ? memoryGb(/^\d+$/.test(overhead) ? `${overhead}m` : overhead) : Math.max(0.375, heap * 0.1);
  // Round off float noise first, so 8 + 0.8 = 8.8 does not become 9.000000001.
  return Math.ceil(Math.round((heap + extra) * 1000) / 1000);
}

/** The Spark configuration a chunk's EMR run gets: its tier's (by the bronze bytes it reads), then the request's own. */
export function sparkConfOf(inputBytes: number, overrides: Record<string, string>): Record<string, string> {
  return chunkSettings(SPARK_SIZES, inputBytes, overrides).conf;
}

function positiveInt(conf: Record<string, string>, key: string): number {
  const n = Number(conf[key]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${key} must be a whole number of at least 1, got "${conf[key]}"`);
  return n;
}

export function estimateChunk(
  input: ChunkCostInput,
  sparkConf: Record<string, string>,
  prices: UnitPrices = DEFAULT_PRICES,
  assumptions: CostAssumptions = DEFAULT_ASSUMPTIONS,
): ChunkCost {
  const conf = sparkConfOf(input.inputBytes, sparkConf);
  const driver = {
    vcpus: positiveInt(conf, 'spark.driver.cores'),
    memoryGb: billedMemoryGb(conf['spark.driver.memory'], conf['spark.driver.memoryOverhead']),
  };
  const executor = {
    vcpus: positiveInt(conf, 'spark.executor.cores'),
    memoryGb: billedMemoryGb(conf['spark.executor.memory'], conf['spark.executor.memoryOverhead']),
  };
  const executors = positiveInt(conf, 'spark.executor.instances');
  const inputBytes = input.processes ? input.inputBytes : 0;
  const throughput = assumptions.mibPerCoreSecond * 1024 * 1024 * executor.vcpus * executors;
  const runSeconds = assumptions.overheadSeconds + inputBytes / throughput;
  const billedSeconds = Math.max(runSeconds, assumptions.minBilledSeconds);
  const hours = billedSeconds / 3600;
  const vcpuHours = (driver.vcpus + executors * executor.vcpus) * hours;
  const gbHours = (driver.memoryGb + executors * executor.memoryGb) * hours;
  return {
    chunkId: input.chunk.id,
    size: sizeTier(input.inputBytes),
    inputBytes,
    driver,
    executor,
    executors,
    runSeconds,
    billedSeconds,
    vcpuHours,
    gbHours,
    usd: vcpuHours * prices.vcpuHour + gbHours * prices.gbHour,
  };
}

/**
 * The bronze a chunk's job reads, from per-day sizes (a dry run's bronzePresent): its days, the
 * lookback day before and allowedLatenessDays after, as the job and the dry run count them.
 */
export function chunkInputBytes(
  chunk: ChunkSpec,
  bronzeBytesByDay: Record<string, number>,
  allowedLatenessDays: number,
): number {
  return bronzeBytesFrom({ allowedLatenessDays }, chunk, bronzeBytesByDay);
}

/** What each chunk of a dry run's plan would read, and whether it would process any day. */
export function costInputsOf(plan: DryRunPlan, allowedLatenessDays: number): ChunkCostInput[] {
  return plan.chunks.map((chunk) => ({
    chunk,
    inputBytes: chunkInputBytes(chunk, plan.bronzePresent, allowedLatenessDays),
    // The job processes a day that has its own bronze and is not skipped as already present.
    processes: dateRange(chunk.startDate, chunk.endDate).some(
      (dt) => plan.bronzePresent[dt] !== undefined && !plan.wouldSkip.includes(dt),
    ),
  }));
}

export function estimateBackfill(
  chunks: ChunkCostInput[],
  sparkConf: Record<string, string>,
  prices: UnitPrices = DEFAULT_PRICES,
  assumptions: CostAssumptions = DEFAULT_ASSUMPTIONS,
): CostEstimate {
  const costs = chunks.map((c) => estimateChunk(c, sparkConf, prices, assumptions));
  const sum = (f: (c: ChunkCost) => number) => costs.reduce((s, c) => s + f(c), 0);
  return {
    chunks: costs,
    vcpuHours: sum((c) => c.vcpuHours),
    gbHours: sum((c) => c.gbHours),
    usd: sum((c) => c.usd),
    inputBytes: sum((c) => c.inputBytes),
    prices,
    assumptions,
  };
}
