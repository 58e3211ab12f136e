/**
 * The Glue Data Catalog, two ways (BACKFILL_CATALOG_MODE):
 * - crawler: run the request's crawler (glue-crawler.ts).
 * - partitions: register the chunk's gold (feature_version, dt) partitions directly, creating the
 *   database and table when missing. No crawler run, no wait, no schema inference.
 */
import {
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchUpdatePartitionCommand,
  CreateDatabaseCommand,
  CreateTableCommand,
  GetDatabaseCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GlueClient,
  type PartitionInput,
  type StorageDescriptor,
} from '@aws-sdk/client-glue';
import { dateRange } from '../../common/dates';
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { CatalogResult } from '../../common/results';
import type { Catalog, Lake } from '../backends';
import { currentLocation, readDayState } from '../ledger/records';
import { GOLD_COLUMNS } from '../feature-records';
import { awsErrorName, classifyAwsError, errorMessage } from './errors';

export type CatalogMode = 'crawler' | 'partitions';

export interface GlueTableName {
  database: string;
  table: string;
}

/** The guide's queries read `gold.card_features`. */
export const DEFAULT_GOLD_TABLE: GlueTableName = { database: 'gold', table: 'card_features' };

export interface PartitionCatalogOptions {
  table?: Partial<GlueTableName>;
}

/** Gold columns as the Spark job writes them (partition columns are in the path, not the files). */
const GOLD_TABLE_COLUMNS = GOLD_COLUMNS.map((c) => ({ Name: c.name, Type: c.hiveType }));

const PARTITION_KEYS = [
  { Name: 'feature_version', Type: 'string' },
  { Name: 'dt', Type: 'string' },
];

function parquetStorage(location: string): StorageDescriptor {
  return {
    Columns: GOLD_TABLE_COLUMNS,
    Location: location,
    InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
    SerdeInfo: {
      SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
      Parameters: { 'serialization.format': '1' },
    },
  };
}

/** BatchCreatePartition takes at most 100 partitions per call. */
const PARTITIONS_PER_CALL = 100;

export class GluePartitionCatalog implements Catalog {
  private readonly table: GlueTableName;

  constructor(
    private readonly client: GlueClient,
    private readonly lake: Lake,
    options: PartitionCatalogOptions = {},
  ) {
    this.table = { ...DEFAULT_GOLD_TABLE, ...options.table };
  }

  async refresh(request: BackfillRequest, chunk: ChunkSpec, goldTableUri: string): Promise<CatalogResult> {
    await this.ensureDatabase();
    await this.ensureTable(goldTableUri);
    // Each day's partition points at its current gold, as the ledger has it: a new location is
    // switched in one UpdatePartition, so Athena readers see the old gold or the new, never none.
    const put: PartitionInput[] = [];
    const drop: string[] = [];
    for (const dt of dateRange(chunk.startDate, chunk.endDate)) {
      const location = currentLocation(await readDayState(this.lake, request, dt), request);
      if (location)
        put.push({ Values: [request.featureVersion, dt], StorageDescriptor: parquetStorage(`${location}/`) });
      else drop.push(dt);
    }
    await this.createOrUpdate(put);
    await this.deletePartitions(request.featureVersion, drop);
    const partitions = (await chunkPartitions(this.client, this.table, request.featureVersion, chunk)) ?? [];
    return { backend: 'glue-partitions', partitions, status: 'SUCCEEDED' };
  }

  private async createOrUpdate(inputs: PartitionInput[]): Promise<void> {
    const { database, table } = this.table;
    for (let i = 0; i < inputs.length; i += PARTITIONS_PER_CALL) {
      const slice = inputs.slice(i, i + PARTITIONS_PER_CALL);
      let errors;
      try {
        const out = await this.client.send(
          new BatchCreatePartitionCommand({ DatabaseName: database, TableName: table, PartitionInputList: slice }),
        );
        errors = out.Errors ?? [];
      } catch (err) {
        throw classifyAwsError(err, `Glue BatchCreatePartition on ${database}.${table}`);
      }
      const existing = errors
        .filter((e) => e.ErrorDetail?.ErrorCode === 'AlreadyExistsException')
        .map((e) => (e.PartitionValues ?? []).join('/'));
      const real = errors.filter((e) => e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException');
      if (real.length > 0) {
        const detail = real.map(
          (e) =>
            `${(e.PartitionValues ?? []).join('/')}: ${e.ErrorDetail?.ErrorCode} ${e.ErrorDetail?.ErrorMessage ?? ''}`,
        );
        throw new Error(
          `Glue BatchCreatePartition on ${database}.${table} refused ${real.length} partitions: ${detail.join('; ')}`,
        );
      }
      // Registered before: switch them to the current location.
      const updates = slice.filter((p) => existing.includes((p.Values ?? []).join('/')));
      if (updates.length === 0) continue;
      let out;
      try {
        out = await this.client.send(
          new BatchUpdatePartitionCommand({
            DatabaseName: database,
            TableName: table,
            Entries: updates.map((p) => ({ PartitionValueList: p.Values, PartitionInput: p })),
          }),
        );
      } catch (err) {
        throw classifyAwsError(err, `Glue BatchUpdatePartition on ${database}.${table}`);
      }
      if (out.Errors?.length) {
        throw new Error(
          `Glue BatchUpdatePartition on ${database}.${table} refused ${out.Errors.length} partitions: ${out.Errors.map((e) => `${(e.PartitionValueList ?? []).join('/')}: ${e.ErrorDetail?.ErrorCode}`).join('; ')}`,
        );
      }
    }
  }

  /** Days whose current gold has no rows: their partitions go (missing ones are fine). */
  private async deletePartitions(version: string, days: string[]): Promise<void> {
    const { database, table } = this.table;
    for (let i = 0; i < days.length; i += PARTITIONS_PER_CALL) {
      const slice = days.slice(i, i + PARTITIONS_PER_CALL).map((dt) => ({ Values: [version, dt] }));
      let out;
      try {
        out = await this.client.send(
          new BatchDeletePartitionCommand({ DatabaseName: database, TableName: table, PartitionsToDelete: slice }),
        );
      } catch (err) {
        throw classifyAwsError(err, `Glue BatchDeletePartition on ${database}.${table}`);
      }
      const real = (out.Errors ?? []).filter((e) => e.ErrorDetail?.ErrorCode !== 'EntityNotFoundException');
      if (real.length > 0)
        throw new Error(`Glue BatchDeletePartition on ${database}.${table} refused ${real.length} partitions`);
    }
  }

  private async ensureDatabase(): Promise<void> {
    const name = this.table.database;
    try {
      await this.client.send(new GetDatabaseCommand({ Name: name }));
      return;
    } catch (err) {
      if (awsErrorName(err) !== 'EntityNotFoundException') throw classifyAwsError(err, `Glue GetDatabase ${name}`);
    }
    try {
      await this.client.send(
        new CreateDatabaseCommand({ DatabaseInput: { Name: name, Description: 'Feature backfill gold tables' } }),
      );
    } catch (err) {
      // Another chunk created it in between.
      if (awsErrorName(err) !== 'AlreadyExistsException') throw classifyAwsError(err, `Glue CreateDatabase ${name}`);
    }
  }

  private async ensureTable(goldTableUri: string): Promise<void> {
    const { database, table } = this.table;
    try {
      await this.client.send(new GetTableCommand({ DatabaseName: database, Name: table }));
      return;
    } catch (err) {
      if (awsErrorName(err) !== 'EntityNotFoundException')
        throw classifyAwsError(err, `Glue GetTable ${database}.${table}`);
    }
    try {
      await this.client.send(
        new CreateTableCommand({
          DatabaseName: database,
          TableInput: {
            Name: table,
            TableType: 'EXTERNAL_TABLE',
            Parameters: { classification: 'parquet', EXTERNAL: 'TRUE' },
            PartitionKeys: PARTITION_KEYS,
            StorageDescriptor: parquetStorage(`${goldTableUri}/`),
          },
        }),
      );
    } catch (err) {
      if (awsErrorName(err) !== 'AlreadyExistsException')
        throw classifyAwsError(err, `Glue CreateTable ${database}.${table}`);
    }
  }
}

/**
 * The chunk's days the catalog knows for this feature version, read back from Glue; undefined when
 * the table is not there (a crawler that has not created it yet).
 */
export async function chunkPartitions(
  client: GlueClient,
  table: GlueTableName,
  featureVersion: string,
  chunk: ChunkSpec,
): Promise<string[] | undefined> {
  const days = new Set<string>();
  const expression = `feature_version = '${featureVersion}' AND dt >= '${chunk.startDate}' AND dt <= '${chunk.endDate}'`;
  let token: string | undefined;
  do {
    try {
      const out = await client.send(
        new GetPartitionsCommand({
          DatabaseName: table.database,
          TableName: table.table,
          Expression: expression,
          NextToken: token,
        }),
      );
      for (const p of out.Partitions ?? []) {
        const [version, dt] = p.Values ?? [];
        if (version === featureVersion && dt >= chunk.startDate && dt <= chunk.endDate) days.add(dt);
      }
      token = out.NextToken;
    } catch (err) {
      if (awsErrorName(err) === 'EntityNotFoundException') return undefined;
      throw new Error(`Glue GetPartitions on ${table.database}.${table.table}: ${errorMessage(err)}`);
    }
  } while (token);
  return [...days].sort();
}
