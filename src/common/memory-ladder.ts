/**
 * The memory ladder's rungs as the worker configures them (BACKFILL_SPARK_MEMORY_LADDER, capped by
 * BACKFILL_SPARK_MEMORY_MAX): pure parsing, shared by the worker's configuration and the Spark activity.
 */
export interface MemoryLadder {
  /** The Spark setting raised: spark.executor.memory on EMR, spark.driver.memory for local spark-submit. */
  key: string;
  /** The rungs, smallest first, already capped by the worker's configuration. */
  rungs: string[];
}

/** `512m`, `8g`, `1t` (Spark's memory strings) in bytes; NaN when not one. */
export function memoryBytes(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*$/i.exec(value);
  if (!m) return NaN;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k'];
  return Number(m[1]) * unit;
}

/** The rungs of a comma-separated ladder at or below the cap; throws naming the bad value. */
export function parseLadder(key: string, ladder: string, cap?: string): MemoryLadder {
  const rungs = ladder
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const r of [...rungs, ...(cap ? [cap] : [])]) {
    if (!(memoryBytes(r) > 0)) throw new Error(`memory ladder: "${r}" is not a Spark memory size such as 8g or 512m`);
  }
  const sorted = [...rungs].sort((a, b) => memoryBytes(a) - memoryBytes(b));
  return { key, rungs: cap ? sorted.filter((r) => memoryBytes(r) <= memoryBytes(cap)) : sorted };
}

/** The first rung above the current setting (the first rung when it is unknown); undefined at the top. */
export function nextRung(ladder: MemoryLadder, current: string | undefined): string | undefined {
  const now = current === undefined ? 0 : memoryBytes(current);
  return ladder.rungs.find((r) => memoryBytes(r) > (Number.isNaN(now) ? 0 : now));
}
