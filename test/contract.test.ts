/**
 * One contract for both languages (spark_jobs/card_features/contract.json): for the job arguments the
 * worker builds, the Spark job's own functions (run in Python) resolve the same lake paths, schemas and
 * publication record as the worker's.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { validateInput, type BackfillInput } from '../src/common/input';
import {
  FEATURE_GROUP_KEYS,
  FEATURE_STORE_TYPES,
  newPublicationRecord,
  OFFLINE_STORE_COLUMNS,
  PUBLICATION_FIELDS,
  RECORD_FEATURES,
} from '../src/common/lake-contract';
import { planChunks } from '../src/common/plan';
import { FEATURE_NAMES, GOLD_COLUMNS } from '../src/activities/feature-records';
import { newPublication } from '../src/activities/ingest/day-publication';
import {
  bronzePartition,
  bronzeTable,
  goldPartition,
  goldTable,
  lakeRoot,
  manifestUri,
} from '../src/activities/lake-paths';
import { catalogUri } from '../src/activities/local/catalog';
import { localFeatureStoreFile, offlineStoreDir } from '../src/activities/local/feature-store';
import { goldCommitUri, ledgerRoot, publicationUri, type GoldCommit } from '../src/activities/ledger/records';
import { sparkJobArgs } from '../src/activities/spark/args';
import { ROOT, VENV_BIN } from './support/temporal';
import { renderTemplate } from './aws/templates';

interface PythonSide {
  paths: Record<string, string>;
  schemas: {
    gold_file_columns: [string, string][];
    record_features: string[];
    offline_store_columns: string[];
    feature_store_types: Record<string, string>;
  };
  new_publication: Record<string, unknown>;
  spark_publication: Record<string, unknown>;
}

function pythonResolves(input: object): PythonSide {
  const out = execFileSync(path.join(VENV_BIN, 'python'), [path.join(ROOT, 'test', 'support', 'contract_resolve.py')], {
    input: JSON.stringify(input),
    encoding: 'utf8',
  });
  return JSON.parse(out) as PythonSide;
}

const commit: GoldCommit = {
  dt: '2025-10-02',
  feature_version: 'v2',
  run_id: 'run-7',
  location: 's3://x/gold/card_features/feature_version=v2/dt=2025-10-02/run=run-7',
  files: ['s3://x/gold/card_features/feature_version=v2/dt=2025-10-02/run=run-7/part-0.parquet'],
  rows: 42,
  code_revision: 'abc',
  fingerprint: 'f',
  committed_at: '2025-10-03T00:00:00.000Z',
};

const values = {
  feature_group: 'grp',
  feature_version: 'v2',
  published_by: 'run-7',
  published_with: 'spark' as const,
  target_stores: ['OfflineStore'],
  batch_size: 42,
};

const lakes: [string, BackfillInput][] = [
  [
    'an S3 bucket with its own prefixes',
    { bucket: 'my-lake', prefixes: { bronze: 'raw/auth', silver: 's', gold: 'g/x' } },
  ],
  ['a local directory', { bucket: '/tmp/contract-lake' }],
  [
    'a file:// URI, another group and version',
    { bucket: 'file:///data/lake/', featureVersion: 'v2', featureGroup: 'grp' },
  ],
];

describe('the lake contract, resolved by TypeScript and by the Spark job', () => {
  for (const [name, input] of lakes)
    it(`${name}: the same paths`, () => {
      const request = validateInput({ startDate: '2025-10-01', endDate: '2025-10-03', ...input });
      const [chunk] = planChunks(request.startDate, request.endDate, 3);
      const argv = sparkJobArgs({ request, chunk, codeRevision: '', ledger: { runId: 'run-7', computeDates: [] } });
      const py = pythonResolves({ argv, days: ['2025-10-01', '2025-10-02', '2025-10-03'], commit, values });
      // The local feature store lives in a local lake only; an S3 lake's Python value is the template's alone.
      const local = lakeRoot(request.bucket).startsWith('file://');
      const storeFile = local ? localFeatureStoreFile(request.bucket) : undefined;
      assert.deepEqual(py.paths, {
        bronze_table: bronzeTable(request),
        bronze_partition: bronzePartition(request, '2025-10-01'),
        gold_table: goldTable(request),
        ledger_root: ledgerRoot(request),
        gold_partition: goldPartition(request, '2025-10-01'),
        gold_commit: goldCommitUri(request, '2025-10-01'),
        publication: publicationUri(request, '2025-10-01'),
        chunk_manifest: manifestUri(request, chunk.id),
        local_catalog: catalogUri(request.bucket),
        local_feature_store: storeFile ? `file://${storeFile}` : py.paths.local_feature_store,
        local_offline_store: storeFile
          ? `file://${offlineStoreDir(storeFile, request.featureGroup)}`
          : py.paths.local_offline_store,
      });
    });

  it('the same gold columns and types, record features and offline-store columns', () => {
    const request = validateInput({ bucket: 'my-lake', startDate: '2025-10-01', endDate: '2025-10-01' });
    const [chunk] = planChunks(request.startDate, request.endDate, 1);
    const argv = sparkJobArgs({ request, chunk, codeRevision: '' });
    const py = pythonResolves({ argv, days: ['2025-10-01'], commit, values });
    assert.deepEqual(
      py.schemas.gold_file_columns,
      GOLD_COLUMNS.map((c) => [c.name, c.hiveType]),
    );
    assert.deepEqual(py.schemas.record_features, FEATURE_NAMES);
    assert.deepEqual(py.schemas.offline_store_columns, OFFLINE_STORE_COLUMNS);
    assert.deepEqual(py.schemas.feature_store_types, FEATURE_STORE_TYPES);
  });

  it('gives every record feature a Feature Store type, and deploy/feature-group.json defines the same', () => {
    assert.deepEqual(Object.keys(FEATURE_STORE_TYPES), [...RECORD_FEATURES]);
    for (const [name, type] of Object.entries(FEATURE_STORE_TYPES))
      assert.ok(['String', 'Integral', 'Fractional'].includes(type), `${name}: ${type}`);
    const group = renderTemplate('feature-group.json', {
      FeatureGroupName: 'g',
      OfflineStoreS3Uri: 's3://lake/offline',
      FeatureStoreRoleArn: 'arn:aws:iam::123456789012:role/R',
    }) as {
      RecordIdentifierFeatureName: string;
      EventTimeFeatureName: string;
      FeatureDefinitions: { FeatureName: string; FeatureType: string }[];
    };
    assert.deepEqual(
      group.FeatureDefinitions.map((d) => [d.FeatureName, d.FeatureType]),
      Object.entries(FEATURE_STORE_TYPES),
    );
    assert.deepEqual(
      [group.RecordIdentifierFeatureName, group.EventTimeFeatureName],
      [FEATURE_GROUP_KEYS.recordIdentifier, FEATURE_GROUP_KEYS.eventTime],
    );
  });

  it('the same publication record from a commit, and both publishers write every contract field', () => {
    const request = validateInput({
      bucket: 'my-lake',
      startDate: '2025-10-02',
      endDate: '2025-10-02',
      featureVersion: 'v2',
      featureGroup: 'grp',
    });
    const [chunk] = planChunks(request.startDate, request.endDate, 1);
    const argv = [...sparkJobArgs({ request, chunk, codeRevision: '', ledger: { runId: 'run-7', computeDates: [] } })];
    argv.push('--offline-publish-dates', '2025-10-02');
    const py = pythonResolves({ argv, days: ['2025-10-02'], commit, values });
    const ts = newPublicationRecord(commit, values);
    // Same values in the same order (the job writes its records unsorted).
    assert.equal(JSON.stringify(py.new_publication), JSON.stringify(ts));
    assert.deepEqual(Object.keys(py.spark_publication).slice(0, PUBLICATION_FIELDS.length), PUBLICATION_FIELDS);
    for (const [field, value] of Object.entries(ts))
      if (!['status', 'sending', 'acked_prefix', 'records_written', 'updated_at'].includes(field))
        assert.deepEqual(py.spark_publication[field], value, field);
    const api = newPublication(request, { commit, batchSize: 10, runId: 'run-7' }) as unknown as Record<
      string,
      unknown
    >;
    assert.deepEqual(
      PUBLICATION_FIELDS.filter((f) => !(f in api)),
      [],
    );
  });
});
