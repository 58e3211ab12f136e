/**
 * The offline store on AWS as `backfill verify` reads it: one Athena query over the feature group's
 * offline store table (its Glue table, DataCatalogConfig), started, waited on, and its results
 * paged with the SDK's paginator. Every copy of every record of the range comes back, with its
 * write_time, so the comparison is the local one (days.ts).
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  paginateGetQueryResults,
  StartQueryExecutionCommand,
  type Row,
} from '@aws-sdk/client-athena';
import { FEATURE_NAMES } from '../feature-records';
import type { OfflineRow, OfflineStoreReader } from './types';

export interface AthenaOptions {
  database: string;
  table: string;
  /**
   * @default 'primary'
   */
  workgroup?: string;
  /** S3 URI for results; unset: the workgroup's own. */
  outputLocation?: string;
  /**
   * How often the query's state is polled, ms.
   * @default 1000
   */
  pollMs?: number;
  /**
   * How long the query may run before verify gives up (it is then named in the error).
   * @default 1_800_000 (30 minutes: a year of a large group is a big scan)
   */
  timeoutMs?: number;
}

/** Athena quotes identifiers with double quotes; names come from our flags, checked to [\w-]. */
const ident = (name: string) => `"${name.replace(/"/g, '')}"`;
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The query: every copy of the version's records of the range, write_time as ISO-8601. */
export function offlineQuery(
  o: AthenaOptions,
  q: { featureVersion: string; startDate: string; endDate: string },
): string {
  const columns = FEATURE_NAMES.map(ident).join(', ');
  return [
    `SELECT ${columns}, to_iso8601(write_time) AS write_time`,
    `FROM ${ident(o.database)}.${ident(o.table)}`,
    `WHERE feature_version = ${literal(q.featureVersion)}`,
    `AND substr(event_time, 1, 10) BETWEEN ${literal(q.startDate)} AND ${literal(q.endDate)}`,
    'AND NOT is_deleted',
  ].join('\n');
}

export class AthenaOfflineReader implements OfflineStoreReader {
  private queryId?: string;
  private readonly client: AthenaClient;

  constructor(
    client: AthenaClient | undefined,
    private readonly options: AthenaOptions,
  ) {
    this.client = client ?? new AthenaClient({});
  }

  describe(): string {
    return `athena ${this.options.database}.${this.options.table} (query ${this.queryId ?? 'not run'})`;
  }

  async rows(q: { featureVersion: string; startDate: string; endDate: string }): Promise<OfflineRow[]> {
    const started = await this.client.send(
      new StartQueryExecutionCommand({
        QueryString: offlineQuery(this.options, q),
        WorkGroup: this.options.workgroup ?? 'primary',
        ResultConfiguration: this.options.outputLocation ? { OutputLocation: this.options.outputLocation } : undefined,
      }),
    );
    const id = started.QueryExecutionId;
    if (!id) throw new Error('Athena StartQueryExecution returned no QueryExecutionId');
    this.queryId = id;
    await this.waitFor(id);
    const out: OfflineRow[] = [];
    let header: string[] | undefined;
    for await (const page of paginateGetQueryResults({ client: this.client }, { QueryExecutionId: id })) {
      for (const row of page.ResultSet?.Rows ?? []) {
        const cells = cellsOf(row);
        // The first row of the first page is the header (column names), as Athena answers a SELECT.
        if (!header) {
          header = cells;
          continue;
        }
        const values = Object.fromEntries(header.map((h, i) => [h, cells[i]]));
        out.push({ values, writeTime: utcIso(values.write_time) });
      }
    }
    return out;
  }

  private async waitFor(id: string): Promise<void> {
    const deadline = Date.now() + (this.options.timeoutMs ?? 1_800_000);
    for (;;) {
      const got = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      const status = got.QueryExecution?.Status;
      if (status?.State === 'SUCCEEDED') return;
      if (status?.State === 'FAILED' || status?.State === 'CANCELLED')
        throw new Error(`Athena query ${id} ${status.State}: ${status.StateChangeReason ?? 'no reason given'}`);
      if (Date.now() > deadline) throw new Error(`Athena query ${id} still ${status?.State} after the timeout`);
      await new Promise((r) => setTimeout(r, this.options.pollMs ?? 1000)); // Athena has no push: poll its state
    }
  }
}

/** Athena's to_iso8601 of a timestamp without zone (SageMaker's write_time is UTC) has no `Z`: add it. */
export function utcIso(text: string): string {
  return /(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text}Z`;
}

function cellsOf(row: Row): string[] {
  return (row.Data ?? []).map((d) => d.VarCharValue ?? '');
}
