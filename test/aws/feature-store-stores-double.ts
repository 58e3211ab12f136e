/**
 * A Feature Store runtime double that keeps what it is sent, as SageMaker does: BatchWriteRecord
 * appends every record to the offline store (with its write_time) and keeps, per record identifier,
 * the record of the latest event time in the online store; BatchGetRecord reads the online store
 * (at most 100 identifiers per call; an identifier without a record is left out). The offline
 * records are what the offline store's Glue table holds, for the Athena double.
 */
import { awsError, ok, serve, type HttpDouble, type Reply } from './http-double';

type Feature = { FeatureName: string; ValueAsString: string };

export interface OfflineRecord {
  featureGroup: string;
  values: Record<string, string>;
  writeTime: string;
}

export class FeatureStoresDouble {
  private server?: HttpDouble;
  readonly offline: OfflineRecord[] = [];
  readonly online = new Map<string, Feature[]>();
  readonly getCalls: number[] = [];

  get endpoint(): string {
    return this.server!.endpoint;
  }

  async start(): Promise<void> {
    this.server = await serve([
      { method: 'POST', pattern: /^\/BatchWriteRecord$/, handle: (_m, body) => this.write(body as WriteBody) },
      { method: 'POST', pattern: /^\/BatchGetRecord$/, handle: (_m, body) => this.get(body as GetBody) },
    ]);
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private write(body: WriteBody): Reply {
    const now = new Date().toISOString();
    for (const e of body.Entries ?? []) {
      const values = Object.fromEntries(e.Record.map((f) => [f.FeatureName, f.ValueAsString]));
      const targets = e.TargetStores ?? ['OnlineStore', 'OfflineStore'];
      if (targets.includes('OfflineStore'))
        this.offline.push({ featureGroup: e.FeatureGroupName, values, writeTime: now });
      const key = `${e.FeatureGroupName}|${values.card_id}`;
      const held = this.online.get(key)?.find((f) => f.FeatureName === 'event_time')?.ValueAsString;
      if (targets.includes('OnlineStore') && (held === undefined || values.event_time >= held))
        this.online.set(key, e.Record);
    }
    return ok({ Errors: [], UnprocessedEntries: [] });
  }

  private get(body: GetBody): Reply {
    const ids = body.Identifiers ?? [];
    const count = ids.reduce((s, i) => s + i.RecordIdentifiersValueAsString.length, 0);
    this.getCalls.push(count);
    if (count > 100) return awsError(400, 'ValidationError', `at most 100 record identifiers per call, got ${count}`);
    const records = ids.flatMap((i) =>
      i.RecordIdentifiersValueAsString.flatMap((id) => {
        const record = this.online.get(`${i.FeatureGroupName}|${id}`);
        return record
          ? [{ FeatureGroupName: i.FeatureGroupName, RecordIdentifierValueAsString: id, Record: record }]
          : [];
      }),
    );
    return ok({ Records: records, Errors: [], UnprocessedIdentifiers: [] });
  }
}

interface WriteBody {
  Entries?: { FeatureGroupName: string; Record: Feature[]; TargetStores?: string[] }[];
}

interface GetBody {
  Identifiers?: { FeatureGroupName: string; RecordIdentifiersValueAsString: string[] }[];
}
