/**
 * What the worker shares with the Spark job, read from spark_jobs/card_features/contract.json (as
 * feature-versions.ts reads definitions.json): the lake's path templates, the gold and offline-store
 * schemas, and the ledger record shapes. card_features/contract.py reads the same file, and
 * test/contract.test.ts checks that both sides resolve alike. Pure: safe in workflows.
 */
import contract from '../../spark_jobs/card_features/contract.json';

/** A path template of the contract (`{name}` placeholders). */
export type LakePathName = Exclude<keyof typeof contract.paths, 'default_prefixes'>;

/** The contract's path `name` with each `{placeholder}` replaced; a placeholder without a value is an error. */
export function lakePath(name: LakePathName, values: Record<string, string>): string {
  return contract.paths[name].replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`contract path ${name} needs a value for {${key}}`);
    return value;
  });
}

/** The lake prefixes the job uses when not told otherwise (bronze, silver, gold, quarantine, manifests, ledger). */
export const DEFAULT_LAKE_PREFIXES: Readonly<Record<string, string>> = contract.paths.default_prefixes;

/** A column and its type (Spark's simple string, which is also Hive's). */
export interface ColumnSpec {
  name: string;
  type: string;
}

const schemas = contract.schemas;
/** Gold's file columns, in order: the keys, then the features (feature_version and dt are in the path). */
export const GOLD_FILE_COLUMNS: readonly ColumnSpec[] = [...schemas.gold_keys, ...schemas.features];
export const FEATURE_COLUMNS: readonly string[] = schemas.features.map((c) => c.name);
/** Gold's partition columns (feature_version, dt), then the run's own directory (run). */
export const GOLD_PARTITIONS: readonly string[] = schemas.gold_partitions;
export const GOLD_RUN_PARTITION: string = schemas.gold_run_partition;
/** A Feature Store record's features: the gold file columns, then feature_version. */
export const RECORD_FEATURES: readonly string[] = [
  ...GOLD_FILE_COLUMNS.map((c) => c.name),
  ...schemas.record_extra_features.map((c) => c.name),
];

/** A Feature Store feature type (SageMaker FeatureDefinition.FeatureType). */
export type FeatureStoreType = 'String' | 'Integral' | 'Fractional';
const STORE_TYPES: readonly string[] = ['String', 'Integral', 'Fractional'];

/**
 * Each record feature's Feature Store type, in RECORD_FEATURES order (what the feature group must
 * define; src/activities/aws/preflight.ts checks it). A feature without one fails here, at load, naming it.
 */
export const FEATURE_STORE_TYPES: Readonly<Record<string, FeatureStoreType>> = Object.fromEntries(
  [...schemas.gold_keys, ...schemas.features, ...schemas.record_extra_features].map((c) => {
    const type = (c as { feature_store_type?: string }).feature_store_type;
    if (type === undefined || !STORE_TYPES.includes(type))
      throw new Error(`contract.json: feature ${c.name} needs a feature_store_type (${STORE_TYPES.join(', ')})`);
    return [c.name, type as FeatureStoreType];
  }),
);

/** The feature group's record identifier and event time features. */
export const FEATURE_GROUP_KEYS: { recordIdentifier: string; eventTime: string } = {
  recordIdentifier: schemas.feature_group.record_identifier,
  eventTime: schemas.feature_group.event_time,
};
/** A row of the offline store's layout: the record's features, the columns SageMaker adds, the partitions. */
export const OFFLINE_STORE_COLUMNS: readonly string[] = [
  ...RECORD_FEATURES,
  ...schemas.offline_store_added,
  ...schemas.offline_store_partitions,
];

const records = contract.records;
export const LEDGER_VERSION: number = records.gold_commit.ledger_version;
/** The fields of a gold commit record, as the job writes them. */
export const GOLD_COMMIT_FIELDS: readonly string[] = records.gold_commit.fields;
/** The fields every publication record has (API and Spark), in the order the job writes them. */
export const PUBLICATION_FIELDS: readonly string[] = records.publication.fields;

/** What a new publication record takes besides the commit (the contract's from_commit and initial fields). */
export interface NewPublicationValues {
  feature_group: string;
  feature_version: string;
  published_by: string | undefined;
  published_with: 'api' | 'spark';
  target_stores: string[];
  batch_size: number;
}

/**
 * A publication record of the commit's gold, nothing acknowledged yet, in the contract's field order:
 * the commit's fields (from_commit), the initial ones, then `values`. As contract.py new_publication.
 */
export function newPublicationRecord(
  commit: { dt: string; run_id: string; files: string[]; rows: number },
  values: NewPublicationValues,
): Record<string, unknown> {
  const spec = records.publication;
  const fromCommit = Object.fromEntries(
    Object.entries(spec.from_commit).map(([field, source]) => [field, commit[source as keyof typeof commit]]),
  );
  const given: Record<string, unknown> = { ...fromCommit, ...spec.initial, ...values };
  const missing = PUBLICATION_FIELDS.filter((f) => !(f in given));
  if (missing.length > 0) throw new Error(`publication record lacks ${missing.join(', ')}`);
  const out = Object.fromEntries(PUBLICATION_FIELDS.map((f) => [f, given[f]]));
  return { ...out, acked_ahead: [...(out.acked_ahead as number[])] };
}
