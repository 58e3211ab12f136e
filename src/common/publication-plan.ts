/**
 * Where each day's records go (the target stores) and what publishes them (the Spark job or the
 * API), decided once per backfill after preflight and kept in the request. Pure: the workflow runs it.
 *
 * The online store keeps only the latest record per identifier for serving, so days older than the
 * online horizon go to the offline store only; recent days go to both. Offline-only days are
 * written by the Spark job (no API quota) when the plan says spark, else by the API with
 * TargetStores [OfflineStore]. Which of the two can write a group depends on its offline store's
 * table format (sparkFormatProblem).
 */
import { addDays, dateRange, fromEpochDay } from './dates';

export type TargetStoresChoice = 'offline' | 'online' | 'both';
export type Publisher = 'spark' | 'api';

/** Horizon when neither the flag nor the feature group's online TTL gives one. */
export const DEFAULT_ONLINE_HORIZON_DAYS = 7;
/**
 * Offline-only days from which `publishWith` defaults to spark. A day of 1M events is about 7
 * minutes at 2,500 records/s through the API and seconds in the job that already holds it, so
 * two days are already worth the job's extra step.
 */
export const SPARK_PUBLISH_MIN_DAYS = 2;

export interface PublicationPlan {
  /** First day sent to the online store; earlier days go offline only. Unset: no horizon. */
  onlineFrom?: string;
  /** The horizon in days and where it came from. */
  horizonDays: number | null;
  horizonSource: 'flag' | 'ttl' | 'default' | 'forced';
  /** `--target-stores`: every day goes there. */
  forced?: TargetStoresChoice;
  /** What publishes offline-only days. */
  offlineWith: Publisher;
  /** Why offlineWith is what it is, for the dry run and the report. */
  offlineWithReason: string;
  /** The job's --offline-store (AWS: sagemaker:<group ARN>); unset: the job's local default. */
  offlineStore?: string;
}

/** What the backend's preflight tells the plan. */
export interface PublicationFacts {
  /** The feature group's online TTL in whole days (rounded up); unset when it has none. */
  onlineTtlDays?: number;
  /** Whether this backend's Spark job can publish offline (AWS: the connector jar is deployed). */
  sparkPublish: boolean;
  /** Why it cannot, when it cannot. */
  sparkPublishProblem?: string;
  /** Where the job publishes (AWS: sagemaker:<feature group ARN>); unset: the job's local default. */
  offlineStore?: string;
  /** The offline store's table format (DescribeFeatureGroup OfflineStoreConfig.TableFormat); unset: Glue. */
  offlineTableFormat?: string;
}

/**
 * Why the Spark path cannot write offline-only days into an offline store of this table format, or
 * undefined when it can. Glue (SageMaker's default, also when unset) is a Hive-layout table over
 * parquet files under the store's S3 location, which is what the job writes (locally) and what the
 * Feature Store connector appends (on AWS). An Iceberg table only sees files its metadata lists: the
 * connector can commit to one only through Iceberg's Spark catalog, whose runtime the job is not
 * started with, so Iceberg groups are published through the API, where SageMaker writes the table
 * itself. The API path is valid for every format.
 */
export function sparkFormatProblem(format: string | undefined): string | undefined {
  if (format === undefined || format === 'Glue') return undefined;
  if (format === 'Iceberg')
    return "the group's offline store is an Iceberg table, and the Spark path writes parquet files in the Glue (Hive) layout, which an Iceberg table does not see; the connector's Iceberg support needs the Iceberg runtime on the job's classpath, which the job is not started with";
  return `the Spark path writes the Glue (Hive) layout and does not know the table format ${format}`;
}

/** The refusal of a forced publisher the group's table format rules out (preflight fails with it), or undefined. */
export function publisherRefusal(
  asked: Publisher | undefined,
  facts: PublicationFacts,
  featureGroup: string,
): string | undefined {
  const problem = asked === 'spark' ? sparkFormatProblem(facts.offlineTableFormat) : undefined;
  if (!problem) return undefined;
  return `publishWith: --publish-with spark cannot publish feature group "${featureGroup}": its offline store table format is ${facts.offlineTableFormat}; ${problem}. Use --publish-with api, or leave the flag out (the API is chosen for this format)`;
}

export interface PlanOptions {
  startDate: string;
  endDate: string;
  onlineHorizonDays?: number;
  targetStores?: TargetStoresChoice;
  publishWith?: Publisher;
  /** ms since the epoch; "today" is its UTC day. */
  now: number;
}

export function planPublication(o: PlanOptions, facts: PublicationFacts): PublicationPlan {
  const today = fromEpochDay(Math.floor(o.now / 86_400_000));
  const horizon = horizonOf(o, facts);
  const onlineFrom = o.targetStores || !horizon.days ? undefined : addDays(today, -horizon.days);
  const base = { onlineFrom, horizonDays: horizon.days, horizonSource: horizon.source, forced: o.targetStores };
  const offlineDays = dateRange(o.startDate, o.endDate).filter(
    (dt) => dayTargets({ ...base, offlineWith: 'api', offlineWithReason: '' }, dt) === 'offline',
  ).length;
  const store = facts.offlineStore ? { offlineStore: facts.offlineStore } : {};
  return { ...base, ...publisherOf(o.publishWith, offlineDays, facts), ...store };
}

function horizonOf(
  o: PlanOptions,
  facts: PublicationFacts,
): { days: number | null; source: PublicationPlan['horizonSource'] } {
  if (o.targetStores) return { days: null, source: 'forced' };
  if (o.onlineHorizonDays !== undefined) return { days: o.onlineHorizonDays || null, source: 'flag' };
  if (facts.onlineTtlDays) return { days: facts.onlineTtlDays, source: 'ttl' };
  return { days: DEFAULT_ONLINE_HORIZON_DAYS, source: 'default' };
}

function publisherOf(
  asked: Publisher | undefined,
  offlineDays: number,
  facts: PublicationFacts,
): Pick<PublicationPlan, 'offlineWith' | 'offlineWithReason'> {
  if (asked === 'api') return { offlineWith: 'api', offlineWithReason: 'asked (--publish-with api)' };
  if (asked === 'spark') return { offlineWith: 'spark', offlineWithReason: 'asked (--publish-with spark)' };
  const formatProblem = sparkFormatProblem(facts.offlineTableFormat);
  if (formatProblem)
    return {
      offlineWith: 'api',
      offlineWithReason: `offline store table format ${facts.offlineTableFormat}: ${formatProblem}`,
    };
  if (!facts.sparkPublish)
    return { offlineWith: 'api', offlineWithReason: facts.sparkPublishProblem ?? 'the Spark job cannot publish here' };
  if (offlineDays >= SPARK_PUBLISH_MIN_DAYS)
    return {
      offlineWith: 'spark',
      offlineWithReason: `${offlineDays} offline-only days (>= ${SPARK_PUBLISH_MIN_DAYS})`,
    };
  return { offlineWith: 'api', offlineWithReason: `${offlineDays} offline-only days (< ${SPARK_PUBLISH_MIN_DAYS})` };
}

/** The stores a day's records go to. A request without a plan (histories from before it): both. */
export function dayTargets(plan: PublicationPlan | undefined, dt: string): TargetStoresChoice {
  if (!plan) return 'both';
  if (plan.forced) return plan.forced;
  return plan.onlineFrom && dt < plan.onlineFrom ? 'offline' : 'both';
}

/** Who publishes a day: the Spark job for offline-only days when the plan says so, else the API. */
export function dayPublisher(plan: PublicationPlan | undefined, dt: string): Publisher {
  return plan && plan.offlineWith === 'spark' && dayTargets(plan, dt) === 'offline' ? 'spark' : 'api';
}

/** SageMaker's TargetStores for a choice. */
export function targetStoreNames(choice: TargetStoresChoice): ('OnlineStore' | 'OfflineStore')[] {
  if (choice === 'offline') return ['OfflineStore'];
  if (choice === 'online') return ['OnlineStore'];
  return ['OnlineStore', 'OfflineStore'];
}
