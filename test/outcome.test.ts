/**
 * A backfill's end is recorded for alarms (BackfillPipelineSuccess on AWS, through the backend's
 * OutcomeRecorder): 1 when every chunk succeeded, 0 otherwise, nothing for a dry run; a recorder
 * that keeps failing never changes the backfill's own outcome. Time-skipping server, fake activities.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { BackfillReport } from '../src/common/results';
import { backfillWorkflow, progressQuery } from '../src/workflows';
import { fakeActivities, type FakeOptions } from './support/fake-activities';
import { createTimeSkippingEnv, WORKFLOWS_PATH } from './support/temporal';
import { until } from './support/until';

describe('backfill outcome for alarms (time-skipping server)', function () {
  let env: TestWorkflowEnvironment;
  let n = 0;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function run(input: Record<string, unknown>, options: FakeOptions = {}) {
    const fake = fakeActivities(options);
    const taskQueue = `outcome-${++n}`;
    const workflowId = `outcome-${n}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    const outcome = await worker.runUntil(
      env.client.workflow
        .execute(backfillWorkflow, { args: [input], taskQueue, workflowId })
        .then((report: BackfillReport) => ({ report, error: undefined }))
        .catch((error: unknown) => ({ report: undefined, error })),
    );
    return { ...outcome, workflowId, outcomes: fake.outcomes };
  }

  const input = {
    bucket: '/tmp/lake',
    startDate: '2025-10-01',
    endDate: '2025-10-04',
    chunkSizeDays: 2,
    featureVersion: 'v1',
  };

  it('records success 1 for a backfill whose chunks all succeeded', async () => {
    const { report, workflowId, outcomes } = await run(input);
    assert.equal(report?.status, 'succeeded');
    assert.deepEqual(outcomes, [
      { workflowId, featureGroup: 'rt_card_features_v1', featureVersion: 'v1', status: 'succeeded', success: 1 },
    ]);
  });

  it('records success 0 for a partially failed backfill', async () => {
    const { report, outcomes } = await run(input, {
      failStep: { step: 'ingest', chunkId: '2025-10-03_2025-10-04', message: 'store down' },
    });
    assert.equal(report?.status, 'partially_failed');
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.success]),
      [['partially_failed', 0]],
    );
  });

  it('records nothing for a request refused at its input: it never ran', async () => {
    const { error, outcomes } = await run({ ...input, chunkSizeDays: 0 });
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, 'InvalidInput');
    assert.deepEqual(outcomes, []);
  });

  it('records success 0 for an accepted backfill that fails without a report (overlap refused)', async () => {
    const conflicts = [
      { holder: 'other-backfill', runId: 'r1', shared: { startDate: '2025-10-02', endDate: '2025-10-02' } },
    ];
    const { error, workflowId, outcomes } = await run(input, { leaseBusy: { conflicts, times: 1 } });
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, 'BackfillOverlap');
    assert.deepEqual(outcomes, [
      { workflowId, featureGroup: 'rt_card_features_v1', featureVersion: 'v1', status: 'failed', success: 0 },
    ]);
  });

  it('records nothing for a dry run', async () => {
    const { report, outcomes } = await run({ ...input, dryRun: true });
    assert.equal(report?.status, 'dry_run');
    assert.deepEqual(outcomes, []);
  });

  it('records success 0 for a cancelled backfill, after its chunks wound down', async () => {
    // Spark holds until cancelled, so the backfill is mid-chunk when the cancel arrives.
    const fake = fakeActivities({ holdWhile: (step) => step === 'spark' });
    const taskQueue = 'outcome-cancel';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
      // Send heartbeats promptly: the cancellation reaches the held activity with the heartbeat's answer
      // (by default throttled to 80% of the 30 s heartbeat timeout).
      maxHeartbeatThrottleInterval: '100 milliseconds',
    });
    const report = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(backfillWorkflow, {
        args: [input],
        taskQueue,
        workflowId: 'outcome-cancel',
      });
      await until(async () => (await handle.query(progressQuery)).totals.running > 0, 'a running chunk', {
        timeoutMs: 60_000,
      });
      await handle.cancel();
      return handle.result();
    });
    assert.equal(report.status, 'cancelled');
    assert.deepEqual(fake.outcomes, [
      {
        workflowId: 'outcome-cancel',
        featureGroup: 'rt_card_features_v1',
        featureVersion: 'v1',
        status: 'cancelled',
        success: 0,
      },
    ]);
  });

  it('a recorder that keeps failing leaves the backfill succeeded', async () => {
    const { report, error } = await run(input, { outcomeFails: true });
    assert.equal(error, undefined);
    assert.equal(report?.status, 'succeeded');
  });
});
