/**
 * The backfill's end as the old pipeline's alarm metric, against moto's CloudWatch with the real
 * SDK client: what was put is read back with GetMetricStatistics.
 */
import { GetMetricStatisticsCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import * as assert from 'node:assert/strict';
import { awsBackendOptionsFromEnv, createAwsBackends } from '../../src/activities/aws';
import { DEFAULT_OUTCOME_NAMESPACE, OUTCOME_METRIC } from '../../src/activities/aws/cloudwatch';
import { motoClients, startMoto, type Moto } from './moto';
import { rejectsRetryable } from './support';

describe('aws: BackfillPipelineSuccess in CloudWatch (moto)', function () {
  let moto: Moto;
  before(async () => {
    moto = await startMoto();
  });
  after(async () => {
    await moto?.stop();
  });

  it('records 1 for a backfill that succeeded and 0 for one that did not, without and with the group dimensions', async () => {
    const clients = { ...motoClients(moto.endpoint), featureStore: {} as never };
    const backends = createAwsBackends(clients);
    const outcome = { workflowId: 'bf-1', featureGroup: 'rt_card_features_v1', featureVersion: 'v1' };
    await backends.outcome!.record({ ...outcome, status: 'succeeded', success: 1 });
    await backends.outcome!.record({ ...outcome, status: 'partially_failed', success: 0 });

    const { cloudwatch } = clients;
    const listed = await cloudwatch.send(
      new ListMetricsCommand({ Namespace: DEFAULT_OUTCOME_NAMESPACE, MetricName: OUTCOME_METRIC }),
    );
    // (moto lists a metric once per datum; CloudWatch once: compare the distinct ones.)
    const dims = [
      ...new Set((listed.Metrics ?? []).map((m) => (m.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).join(','))),
    ].sort();
    assert.deepEqual(dims, ['', 'FeatureGroup=rt_card_features_v1,FeatureVersion=v1']);
    const now = Date.now();
    const stats = await cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: DEFAULT_OUTCOME_NAMESPACE,
        MetricName: OUTCOME_METRIC,
        // The group's series (moto ignores the dimension set when none is asked, CloudWatch does not).
        Dimensions: [
          { Name: 'FeatureGroup', Value: 'rt_card_features_v1' },
          { Name: 'FeatureVersion', Value: 'v1' },
        ],
        StartTime: new Date(now - 3_600_000),
        EndTime: new Date(now + 60_000),
        Period: 3600,
        Statistics: ['Sum', 'SampleCount', 'Minimum'],
      }),
    );
    const total = (stats.Datapoints ?? []).reduce(
      (s, d) => ({ sum: s.sum + (d.Sum ?? 0), n: s.n + (d.SampleCount ?? 0), min: Math.min(s.min, d.Minimum ?? 1) }),
      { sum: 0, n: 0, min: 1 },
    );
    assert.deepEqual(total, { sum: 1, n: 2, min: 0 });
  });

  it('takes its namespace from BACKFILL_CLOUDWATCH_NAMESPACE, and an outage stays retryable', async () => {
    assert.equal(
      awsBackendOptionsFromEnv({ BACKFILL_CLOUDWATCH_NAMESPACE: 'Team/Backfills' }).outcomeNamespace,
      'Team/Backfills',
    );
    assert.equal(awsBackendOptionsFromEnv({}).outcomeNamespace, undefined);
    const clients = motoClients('http://127.0.0.1:9'); // nothing listens there
    const backends = createAwsBackends({ ...clients, featureStore: {} as never });
    await rejectsRetryable(
      backends.outcome!.record({
        workflowId: 'x',
        featureGroup: 'g',
        featureVersion: 'v1',
        status: 'failed',
        success: 0,
      }),
      /CloudWatch PutMetricData P1Unified\/BackfillPipelineSuccess|ECONNREFUSED|connect/,
    );
  });
});
