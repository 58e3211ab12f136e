/**
 * A wire-level double of SageMaker's DescribeFeatureGroup, for what moto 5.1 gets wrong: moto answers
 * a missing feature group with an HTTP 500 HTML page (SageMaker: HTTP 400 `ResourceNotFound`), its
 * groups are always `Created` (no Creating, CreateFailed, Deleting), and it never pages
 * FeatureDefinitions. SageMaker speaks AWS JSON 1.1: `POST /` with the operation in X-Amz-Target.
 */
import type { FeatureDefinition } from '@aws-sdk/client-sagemaker';
import { awsError, ok, serve, type HttpDouble, type Reply } from './http-double';

export interface DoubleFeatureGroup {
  RecordIdentifierFeatureName: string;
  EventTimeFeatureName: string;
  FeatureDefinitions: FeatureDefinition[];
  FeatureGroupStatus?: string;
  FailureReason?: string;
  /** Answered as given (moto leaves it out: no online TTL there). */
  OnlineStoreConfig?: { EnableOnlineStore?: boolean; TtlDuration?: { Unit: string; Value: number } };
  /** Answered as given: the offline store's S3 location and TableFormat (Glue, Iceberg; unset means Glue). */
  OfflineStoreConfig?: { S3StorageConfig: { S3Uri: string }; TableFormat?: string };
}

export class SageMakerDouble {
  readonly groups = new Map<string, DoubleFeatureGroup>();
  /** Errors answered to the next requests, in order, before anything else is done. */
  readonly faults: Reply[] = [];
  /** Operations called, in order. */
  readonly calls: string[] = [];
  private server?: HttpDouble;

  /** @param pageSize FeatureDefinitions per DescribeFeatureGroup page (SageMaker: 2,500). */
  constructor(private readonly pageSize = 2500) {}

  get endpoint(): string {
    return this.server!.endpoint;
  }

  async start(): Promise<void> {
    this.server = await serve([
      {
        method: 'POST',
        pattern: /^\/$/,
        handle: (_m, body, req) => {
          const operation = String(req.headers['x-amz-target'] ?? '').replace(/^SageMaker\./, '');
          this.calls.push(operation);
          const fault = this.faults.shift();
          if (fault) return fault;
          if (operation === 'DescribeFeatureGroup')
            return this.describe(body as { FeatureGroupName?: string; NextToken?: string });
          return awsError(400, 'UnknownOperationException', `the double does not implement ${operation}`);
        },
      },
    ]);
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private describe(body: { FeatureGroupName?: string; NextToken?: string }): Reply {
    const name = body.FeatureGroupName ?? '';
    const group = this.groups.get(name);
    if (!group)
      return awsError(
        400,
        'ResourceNotFound',
        `Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name ${name}`,
      );
    const start = Number(body.NextToken ?? 0);
    const end = start + this.pageSize;
    return ok({
      FeatureGroupArn: `arn:aws:sagemaker:us-east-1:123456789012:feature-group/${name.toLowerCase()}`,
      FeatureGroupName: name,
      RecordIdentifierFeatureName: group.RecordIdentifierFeatureName,
      EventTimeFeatureName: group.EventTimeFeatureName,
      FeatureDefinitions: group.FeatureDefinitions.slice(start, end),
      CreationTime: 1_760_000_000,
      FeatureGroupStatus: group.FeatureGroupStatus ?? 'Created',
      FailureReason: group.FailureReason,
      OnlineStoreConfig: group.OnlineStoreConfig,
      OfflineStoreConfig: group.OfflineStoreConfig,
      NextToken: end < group.FeatureDefinitions.length ? String(end) : undefined,
    });
  }
}
