/**
 * A backfill's end as the CloudWatch metric the Step Functions pipeline's alarm read:
 * `BackfillPipelineSuccess` (1 or 0) in namespace `P1Unified`, once without dimensions (what the old
 * alarm watched) and once per feature group and version (for finer alarms).
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { BackfillOutcome, OutcomeRecorder } from '../backends';
import { classifyAwsError } from './errors';

/** The old pipeline's namespace; BACKFILL_CLOUDWATCH_NAMESPACE changes it. */
export const DEFAULT_OUTCOME_NAMESPACE = 'P1Unified';
export const OUTCOME_METRIC = 'BackfillPipelineSuccess';

export class CloudWatchOutcomeRecorder implements OutcomeRecorder {
  constructor(
    private readonly client: CloudWatchClient,
    private readonly namespace = DEFAULT_OUTCOME_NAMESPACE,
  ) {}

  async record(outcome: BackfillOutcome): Promise<void> {
    const datum = { MetricName: OUTCOME_METRIC, Value: outcome.success, Unit: 'Count' as const };
    const dimensions = [
      { Name: 'FeatureGroup', Value: outcome.featureGroup },
      { Name: 'FeatureVersion', Value: outcome.featureVersion },
    ];
    try {
      await this.client.send(
        new PutMetricDataCommand({
          Namespace: this.namespace,
          MetricData: [datum, { ...datum, Dimensions: dimensions }],
        }),
      );
    } catch (err) {
      throw classifyAwsError(err, `CloudWatch PutMetricData ${this.namespace}/${OUTCOME_METRIC}`);
    }
  }
}
