/** The dry run's publication lines: which days go to which stores, through which path, how long. */
import type { DryRunPublication } from '../common/results';

export function formatPublication(p: DryRunPublication): string[] {
  const plan = p.plan;
  const horizon = !plan
    ? 'no plan (the worker predates it): every day to both stores through the API'
    : plan.forced
      ? `every day to ${plan.forced} (--target-stores)`
      : plan.onlineFrom
        ? `days before ${plan.onlineFrom} offline only (horizon ${plan.horizonDays} days, from ${horizonSource(plan.horizonSource)}), later days online and offline`
        : 'no horizon: every day online and offline';
  const lines = [
    `Publication: ${horizon}`,
    `  offline only: ${ranges(p.stores.offline)}`,
    `  online and offline: ${ranges(p.stores.both)}`,
  ];
  if (p.stores.online.length) lines.push(`  online only: ${ranges(p.stores.online)}`);
  if (plan) lines.push(`  offline-only days published by: ${plan.offlineWith} (${plan.offlineWithReason})`);
  const a = p.assumptions;
  lines.push(
    `  spark path (offline store, from the job): ${p.spark.days.length} day(s), ~${p.spark.records.toLocaleString('en-US')} records, est. ${duration(p.spark.seconds)} at ${a.sparkRecordsPerSecond.toLocaleString('en-US')} records/s`,
    `  api path (BatchWriteRecord): ${p.api.days.length} day(s), ~${p.api.records.toLocaleString('en-US')} records, est. ${duration(p.api.seconds)} at ${a.apiRecordsPerSecond.toLocaleString('en-US')} records/s`,
    `  (records from gold commits, else bronze size at ${a.bronzeBytesPerRecord} bytes per record)`,
  );
  return lines;
}

function horizonSource(source: string): string {
  return source === 'ttl'
    ? "the feature group's online TTL"
    : source === 'flag'
      ? '--online-horizon-days'
      : 'the default';
}

/** Consecutive days as ranges: 2025-01-01..2025-12-24, 2025-12-26. */
function ranges(days: string[]): string {
  if (days.length === 0) return 'none';
  const out: string[] = [];
  let start = days[0];
  let prev = days[0];
  const next = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  for (const d of days.slice(1)) {
    if (d !== next(prev)) {
      out.push(start === prev ? start : `${start}..${prev}`);
      start = d;
    }
    prev = d;
  }
  out.push(start === prev ? start : `${start}..${prev}`);
  return `${out.join(', ')} (${days.length} day(s))`;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
