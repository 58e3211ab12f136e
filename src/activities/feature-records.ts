/** Gold rows -> Feature Store records (record identifier card_id, event time as ISO-8601 UTC). */
import type { FeatureValue } from './backends';

/**
 * Gold columns as the Spark job writes them, in order, with their Hive types (the partition
 * columns feature_version and dt are in the path, not the files). The one list of them here.
 */
export const GOLD_COLUMNS = [
  { name: 'card_id', hiveType: 'string' },
  { name: 'event_id', hiveType: 'string' },
  { name: 'event_time', hiveType: 'bigint' },
  { name: 'txn_count_1h', hiveType: 'int' },
  { name: 'txn_count_24h', hiveType: 'int' },
  { name: 'amount_sum_24h', hiveType: 'double' },
  { name: 'merchant_count_24h', hiveType: 'int' },
] as const;

/** The features of a Feature Store record: the gold columns, then feature_version. */
export const FEATURE_NAMES = [...GOLD_COLUMNS.map((c) => c.name), 'feature_version' as const];

export function isoEventTime(epochSeconds: unknown): string {
  const seconds = Number(epochSeconds);
  if (!Number.isFinite(seconds)) throw new Error(`event_time is not a number: ${String(epochSeconds)}`);
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

export function goldRowToRecord(row: Record<string, unknown>, featureVersion: string): FeatureValue[] {
  return FEATURE_NAMES.map((name) => {
    let value: unknown = row[name];
    if (name === 'event_time') value = isoEventTime(value);
    if (name === 'feature_version') value = value ?? featureVersion;
    if (value === undefined || value === null)
      throw new Error(`gold row of event ${String(row.event_id)} lacks ${name}`);
    return { FeatureName: name, ValueAsString: String(value) };
  });
}
