/** Gold rows -> Feature Store records (record identifier card_id, event time as ISO-8601 UTC). */
import { GOLD_FILE_COLUMNS, RECORD_FEATURES } from '../common/lake-contract';
import type { FeatureValue } from './backends';

/**
 * Gold columns as the Spark job writes them, in order, with their Hive types (the partition
 * columns feature_version and dt are in the path, not the files): spark_jobs/card_features/contract.json's.
 */
export const GOLD_COLUMNS: readonly { name: string; hiveType: string }[] = GOLD_FILE_COLUMNS.map((c) => ({
  name: c.name,
  hiveType: c.type,
}));

/** The features of a Feature Store record: the gold columns, then feature_version (contract.json). */
export const FEATURE_NAMES: readonly string[] = RECORD_FEATURES;

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
