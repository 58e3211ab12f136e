/**
 * The dry run's publication part: which days go to which stores through which path, and an
 * estimate of how long each path takes. Records per day come from the day's gold commit when it
 * has one, else from its bronze size.
 */
import { dayPublisher, dayTargets, type PublicationPlan } from '../../common/publication-plan';
import type { DryRunPublication } from '../../common/results';
import type { DayState } from '../ledger/records';

/** Compressed bronze bytes per event of the sample data (sample-lake: 36,512 bytes for 2,066 events). */
export const BRONZE_BYTES_PER_RECORD = 18;
/**
 * Records/s of the API path: the default BatchWriteRecord quota the ingest double models and the
 * loop reaches (docs/benchmarks.md, bench:ingest); raise it for an account with a raised quota.
 */
export const API_RECORDS_PER_SECOND = 2_500;
/** Records/s of the Spark path into the offline store: measured locally on 2 busy cores (docs/benchmarks.md, bench:publish); EMR executors scale it. */
export const SPARK_RECORDS_PER_SECOND = 65_000;

export function dryRunPublication(
  plan: PublicationPlan | undefined,
  states: DayState[],
  bronzeBytes: Record<string, number>,
): DryRunPublication {
  const paths = {
    spark: { days: [] as string[], records: 0 },
    api: { days: [] as string[], records: 0 },
  };
  const stores = { offline: [] as string[], online: [] as string[], both: [] as string[] };
  for (const s of states) {
    const records = s.commit?.rows ?? Math.round((bronzeBytes[s.dt] ?? 0) / BRONZE_BYTES_PER_RECORD);
    const path = paths[dayPublisher(plan, s.dt)];
    path.days.push(s.dt);
    path.records += records;
    stores[dayTargets(plan, s.dt)].push(s.dt);
  }
  return {
    plan,
    stores,
    spark: { ...paths.spark, seconds: Math.round(paths.spark.records / SPARK_RECORDS_PER_SECOND) },
    api: { ...paths.api, seconds: Math.round(paths.api.records / API_RECORDS_PER_SECOND) },
    assumptions: {
      apiRecordsPerSecond: API_RECORDS_PER_SECOND,
      sparkRecordsPerSecond: SPARK_RECORDS_PER_SECOND,
      bronzeBytesPerRecord: BRONZE_BYTES_PER_RECORD,
    },
  };
}
