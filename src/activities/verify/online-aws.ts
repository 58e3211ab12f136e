/** The online store on AWS as `backfill verify` reads it: BatchGetRecord, 100 identifiers a call. */
import {
  BatchGetRecordCommand,
  SageMakerFeatureStoreRuntimeClient,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import type { OnlineStoreReader } from './types';

/** BatchGetRecord's limit of record identifiers per call. */
const MAX_IDS = 100;

export class FeatureStoreOnlineReader implements OnlineStoreReader {
  private readonly client: SageMakerFeatureStoreRuntimeClient;

  constructor(client?: SageMakerFeatureStoreRuntimeClient) {
    this.client = client ?? new SageMakerFeatureStoreRuntimeClient({});
  }

  async records(featureGroup: string, cardIds: string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    for (let i = 0; i < cardIds.length; i += MAX_IDS) {
      const ids = cardIds.slice(i, i + MAX_IDS);
      const got = await this.client.send(
        new BatchGetRecordCommand({
          Identifiers: [{ FeatureGroupName: featureGroup, RecordIdentifiersValueAsString: ids }],
        }),
      );
      const errors = got.Errors ?? [];
      // A record that does not exist is answered in UnprocessedIdentifiers/absent, not as an error; an error is the store's.
      if (errors.length > 0)
        throw new Error(
          `BatchGetRecord ${featureGroup}: ${errors.map((e) => `${e.RecordIdentifierValueAsString}: ${e.ErrorCode} ${e.ErrorMessage}`).join('; ')}`,
        );
      for (const r of got.Records ?? [])
        out.set(
          r.RecordIdentifierValueAsString ?? '',
          Object.fromEntries((r.Record ?? []).map((f) => [f.FeatureName ?? '', f.ValueAsString ?? ''])),
        );
    }
    return out;
  }
}
