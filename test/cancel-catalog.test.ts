/**
 * A cancel that reaches a chunk once its Spark job may have committed gold: the catalog still comes
 * to serve the ledger's current gold before the chunk ends Cancelled (issue 20; the fault soak's
 * seed 5035 found a day committed and not served after a cancel). Time-skipping server, fake activities.
 */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { backfillWorkflow } from '../src/workflows';
import { fakeActivities } from './support/fake-activities';
import { createTimeSkippingEnv, WORKFLOWS_PATH } from './support/temporal';
import { until } from './support/until';

describe('a chunk cancelled after its Spark step started (time-skipping server)', function () {
  let env: TestWorkflowEnvironment;
  let n = 0;

  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /** One one-day chunk, held in `step` until the backfill is cancelled; the fake's calls after it ended. */
  async function cancelDuring(step: string) {
    const fake = fakeActivities({ holdWhile: (name) => name === step });
    const taskQueue = `cancel-catalog-${++n}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
      // Heartbeats reach the server promptly, so the cancel reaches the held activity.
      maxHeartbeatThrottleInterval: '100 milliseconds',
    });
    const report = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(backfillWorkflow, {
        args: [{ bucket: '/tmp/lake', startDate: '2025-10-02', endDate: '2025-10-02', featureVersion: 'v1' }],
        taskQueue,
        workflowId: `cancel-catalog-${n}`,
      });
      await until(() => fake.calls.some((c) => c.step === step), `the ${step} step`, { timeoutMs: 60_000 });
      await handle.cancel();
      return handle.result();
    });
    return { report, steps: fake.calls.filter((c) => c.chunkId === '2025-10-02_2025-10-02').map((c) => c.step) };
  }

  it('cancelled during Spark (the job may have committed): the catalog is refreshed, then the chunk ends cancelled', async () => {
    const { report, steps } = await cancelDuring('spark');
    assert.equal(report.status, 'cancelled');
    assert.equal(report.chunks[0].status, 'cancelled');
    // Without pruning: a Spark run the cancel did not stop may still write its run directory.
    assert.deepEqual(steps, ['spark', 'catalog-no-prune'], 'one refresh after the cancel, nothing else');
  });

  it('cancelled during ingestion, its catalog refresh done: no second refresh', async () => {
    const { report, steps } = await cancelDuring('ingest');
    assert.equal(report.chunks[0].status, 'cancelled');
    assert.deepEqual(
      steps.filter((s) => s.startsWith('catalog')),
      ['catalog'],
    );
    assert.ok(!steps.includes('validate'), steps.join(', '));
  });
});
