/**
 * A cancel that reaches a chunk once its Spark job may have committed gold: the catalog still comes
 * to serve the ledger's current gold before the chunk ends Cancelled (issue 20; the fault soak's
 * seed 5035 found a day committed and not served after a cancel). Time-skipping server, fake activities.
 */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { backfillWorkflow } from '../src/workflows';
import type { ChunkSpec } from '../src/common/plan';
import { addDays } from '../src/common/dates';
import { FAILURE } from '../src/common/failures';
import { fakeActivities, type FakeOptions } from './support/fake-activities';
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

  /** One chunk, held in `step` until the backfill is cancelled; the fake's calls after it ended. */
  async function cancelDuring(step: string, options: { days?: number; fake?: FakeOptions; chunkId?: string } = {}) {
    const { days = 1, chunkId = '2025-10-02_2025-10-02' } = options;
    const held = (name: string, chunk: ChunkSpec) => name === step && chunk.id === chunkId;
    const fake = fakeActivities({ ...options.fake, holdWhile: held });
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
        args: [
          {
            bucket: '/tmp/lake',
            startDate: '2025-10-02',
            endDate: addDays('2025-10-02', days - 1),
            chunkSizeDays: days,
            featureVersion: 'v1',
          },
        ],
        taskQueue,
        workflowId: `cancel-catalog-${n}`,
      });
      // Catalog and ingest start side by side: a cancel during the refresh waits for both to run.
      const waitFor = step === 'catalog' ? ['catalog', 'ingest'] : [step];
      const reached = () => waitFor.every((w) => fake.calls.some((c) => c.step === w && c.chunkId === chunkId));
      await until(reached, `the ${waitFor.join(' and ')} step of ${chunkId}`, { timeoutMs: 60_000 });
      await handle.cancel();
      return handle.result();
    });
    return { report, steps: fake.calls.filter((c) => c.chunkId === chunkId).map((c) => c.step), calls: fake.calls };
  }

  it('cancelled during Spark (the job may have committed): the catalog is refreshed, then the chunk ends cancelled', async () => {
    const { report, steps } = await cancelDuring('spark');
    assert.equal(report.status, 'cancelled');
    assert.equal(report.chunks[0].status, 'cancelled');
    // Without pruning: a Spark run the cancel did not stop may still write its run directory.
    assert.deepEqual(steps, ['spark', 'catalog-no-prune'], 'one refresh after the cancel, nothing else');
  });

  it('cancelled during its catalog refresh: the refresh is done again, past the cancel, then the chunk ends cancelled', async () => {
    const { report, steps } = await cancelDuring('catalog');
    assert.equal(report.chunks[0].status, 'cancelled');
    // Ingestion starts beside the refresh; the cancel stops both, then one refresh runs past it.
    assert.deepEqual(
      [steps[0], ...steps.slice(1, 3).sort(), ...steps.slice(3)],
      ['spark', 'catalog', 'ingest', 'catalog-no-prune'],
    );
  });

  it('cancelled while bisected: the one-day child in Spark refreshes its day, the parent refreshes nothing', async () => {
    const parent = '2025-10-02_2025-10-04';
    const { report, calls } = await cancelDuring('spark', {
      days: 3,
      chunkId: '2025-10-03_2025-10-03', // the second day's child, after the first one published
      fake: {
        failStep: { step: 'spark', chunkId: parent, message: 'bronze unreadable', type: FAILURE.badBronzeInput },
      },
    });
    assert.equal(report.chunks[0].status, 'cancelled');
    const refreshes = calls.filter((c) => c.step.startsWith('catalog')).map((c) => `${c.step} ${c.chunkId}`);
    assert.deepEqual(refreshes, ['catalog 2025-10-02_2025-10-02', 'catalog-no-prune 2025-10-03_2025-10-03']);
    assert.ok(!calls.some((c) => c.chunkId === '2025-10-04_2025-10-04'), 'the third day never started');
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
