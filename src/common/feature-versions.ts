/**
 * Feature versions as defined for the Spark job (spark_jobs/card_features/definitions.json), so
 * the workflow can reject an unknown version before any work starts. Pure: safe in workflows.
 */
import definitions from '../../spark_jobs/card_features/definitions.json';

export const FEATURE_VERSION_PATTERN = /^v\d+(\.\d+)?$/;

export function definedFeatureVersions(): string[] {
  return Object.keys(definitions.versions).sort();
}

export function defaultFeatureGroup(version: string): string {
  return `rt_card_features_${version.replace('.', '_')}`;
}
