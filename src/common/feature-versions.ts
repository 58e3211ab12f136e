/**
 * Feature versions as defined for the Spark job (spark_jobs/card_features/definitions.json), so
 * the workflow can reject an unknown version before any work starts. Pure: safe in workflows.
 */
import definitions from '../../spark_jobs/card_features/definitions.json';

/** v1, v1.1, v1_corrected, v2.1_fix: as spark_jobs/card_features/definitions.py VERSION_PATTERN. */
export const FEATURE_VERSION_PATTERN = /^v\d+([._][A-Za-z0-9]+){0,3}$/;
export const FEATURE_VERSION_FORM = 'v<major> followed by up to three .<part> or _<part> (v1, v1.1, v1_corrected)';

export function definedFeatureVersions(): string[] {
  return Object.keys(definitions.versions).sort();
}

export function defaultFeatureGroup(version: string): string {
  return `rt_card_features_${version.replace(/\./g, '_')}`;
}
