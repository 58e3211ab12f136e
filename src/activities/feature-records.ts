/** Gold rows -> Feature Store records (record identifier card_id, event time as ISO-8601 UTC). */
import type { FeatureValue } from './backends';

export const FEATURE_NAMES = [
  'card_id',
  'event_id',
  'event_time',
  'txn_count_1h',
  'txn_count_24h',
  'amount_sum_24h',
  'merchant_count_24h',
  'feature_version',
] as const;

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
    if (value === undefined || value === null) throw new Error(`gold row of event ${String(row.event_id)} lacks ${name}`);
    return { FeatureName: name, ValueAsString: String(value) };
  });
}
