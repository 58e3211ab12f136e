/**
 * A wire-level Athena double (AWS JSON 1.1: `POST /` with `X-Amz-Target: AmazonAthena.<Operation>`):
 * StartQueryExecution, GetQueryExecution (QUEUED -> RUNNING -> SUCCEEDED over successive polls, or
 * FAILED with Athena's reason) and GetQueryResults (the header row first, pages of at most
 * MaxResults <= 1000 rows, an opaque NextToken, every value a VarCharValue, nulls without one).
 * Moto 5.1 answers Athena with canned results and never runs the SQL; this double runs it with SQLite
 * over the tables the test registers (`database.table`, attached as SQLite schemas), with Trino's
 * `to_iso8601` added. SQL beyond the common subset (Trino-only functions and types) is not emulated.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type * as http from 'node:http';
import { awsError, ok, serve, type HttpDouble, type Reply } from './http-double';

export interface AthenaTable {
  /** Column names and SQLite types (TEXT, INTEGER, REAL). */
  columns: { name: string; type: string }[];
  rows: () => Record<string, unknown>[];
}

interface Query {
  id: string;
  sql: string;
  workgroup: string;
  polls: number;
  result?: { columns: string[]; rows: unknown[][] };
  error?: string;
  resultPages: number;
}

export interface AthenaDoubleOptions {
  /** `database.table` -> its table. */
  tables: Record<string, AthenaTable>;
  /** GetQueryExecution polls answered QUEUED, then RUNNING, before SUCCEEDED (or FAILED). @default 2 */
  pollsBeforeDone?: number;
}

export class AthenaDouble {
  private server?: HttpDouble;
  readonly queries: Query[] = [];

  constructor(private readonly options: AthenaDoubleOptions) {}

  get endpoint(): string {
    return this.server!.endpoint;
  }

  async start(): Promise<void> {
    this.server = await serve([
      {
        method: 'POST',
        pattern: /^\/$/,
        handle: (_m, body, req) => this.dispatch(req, body as Record<string, unknown>),
      },
    ]);
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private dispatch(req: http.IncomingMessage, body: Record<string, unknown>): Reply {
    const target = String(req.headers['x-amz-target'] ?? '');
    switch (target) {
      case 'AmazonAthena.StartQueryExecution':
        return this.start_(body);
      case 'AmazonAthena.GetQueryExecution':
        return this.getExecution(body);
      case 'AmazonAthena.GetQueryResults':
        return this.getResults(body);
      default:
        return awsError(400, 'UnknownOperationException', `unknown operation ${target}`);
    }
  }

  private start_(body: Record<string, unknown>): Reply {
    const sql = body.QueryString;
    if (typeof sql !== 'string' || sql.length === 0)
      return awsError(400, 'InvalidRequestException', 'QueryString is required');
    const query: Query = {
      id: randomUUID(),
      sql,
      workgroup: String(body.WorkGroup ?? 'primary'),
      polls: 0,
      resultPages: 0,
    };
    try {
      query.result = this.run(sql);
    } catch (err) {
      query.error = athenaReason((err as Error).message);
    }
    this.queries.push(query);
    return ok({ QueryExecutionId: query.id });
  }

  private find(body: Record<string, unknown>): Query | undefined {
    return this.queries.find((q) => q.id === body.QueryExecutionId);
  }

  private getExecution(body: Record<string, unknown>): Reply {
    const q = this.find(body);
    if (!q)
      return awsError(400, 'InvalidRequestException', `QueryExecution ${String(body.QueryExecutionId)} was not found`);
    q.polls++;
    const waits = this.options.pollsBeforeDone ?? 2;
    const state = q.polls <= waits / 2 ? 'QUEUED' : q.polls <= waits ? 'RUNNING' : q.error ? 'FAILED' : 'SUCCEEDED';
    return ok({
      QueryExecution: {
        QueryExecutionId: q.id,
        Query: q.sql,
        WorkGroup: q.workgroup,
        StatementType: 'DML',
        Status: { State: state, ...(state === 'FAILED' ? { StateChangeReason: q.error } : {}) },
      },
    });
  }

  private getResults(body: Record<string, unknown>): Reply {
    const q = this.find(body);
    if (!q)
      return awsError(400, 'InvalidRequestException', `QueryExecution ${String(body.QueryExecutionId)} was not found`);
    const waits = this.options.pollsBeforeDone ?? 2;
    if (q.polls <= waits || !q.result)
      return awsError(
        400,
        'InvalidRequestException',
        `Query has not yet finished. Current state: ${q.error ? 'FAILED' : 'RUNNING'}`,
      );
    const max = body.MaxResults === undefined ? 1000 : Number(body.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > 1000)
      return awsError(400, 'InvalidRequestException', 'MaxResults must be between 1 and 1000');
    // The header row counts as a row of the first page, as Athena answers a SELECT.
    const all = [q.result.columns, ...q.result.rows];
    const offset = body.NextToken ? Number(Buffer.from(String(body.NextToken), 'base64').toString('utf8')) : 0;
    const page = all.slice(offset, offset + max);
    q.resultPages++;
    const next = offset + max < all.length ? Buffer.from(String(offset + max)).toString('base64') : undefined;
    return ok({
      ResultSet: {
        Rows: page.map((r) => ({
          Data: r.map((v) => (v === null || v === undefined ? {} : { VarCharValue: String(v) })),
        })),
        ResultSetMetadata: { ColumnInfo: q.result.columns.map((c) => ({ Name: c, Label: c, Type: 'varchar' })) },
      },
      UpdateCount: 0,
      ...(next ? { NextToken: next } : {}),
    });
  }

  private run(sql: string): { columns: string[]; rows: unknown[][] } {
    const db = new Database(':memory:');
    try {
      db.function('to_iso8601', (v: unknown) => (v === null ? null : new Date(String(v)).toISOString()));
      for (const [name, table] of Object.entries(this.options.tables)) {
        const [schema, tableName] = name.split('.');
        db.exec(`ATTACH DATABASE ':memory:' AS "${schema}"`);
        db.exec(
          `CREATE TABLE "${schema}"."${tableName}" (${table.columns.map((c) => `"${c.name}" ${c.type}`).join(', ')})`,
        );
        const insert = db.prepare(
          `INSERT INTO "${schema}"."${tableName}" VALUES (${table.columns.map(() => '?').join(', ')})`,
        );
        for (const row of table.rows()) insert.run(...table.columns.map((c) => row[c.name] ?? null));
      }
      const stmt = db.prepare(sql);
      const columns = stmt.columns().map((c) => c.name);
      return { columns, rows: stmt.raw().all() as unknown[][] };
    } finally {
      db.close();
    }
  }
}

/** SQLite's error in the words Athena uses for the same failure. */
function athenaReason(message: string): string {
  const table = /no such table: (.+)$/.exec(message);
  if (table) return `TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.${table[1]}' does not exist`;
  const column = /no such column: (.+)$/.exec(message);
  if (column) return `COLUMN_NOT_FOUND: line 1:1: Column '${column[1]}' cannot be resolved`;
  return `SYNTAX_ERROR: ${message}`;
}
