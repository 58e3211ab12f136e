/** Workflow logic on the time-skipping test server, with activities that do no I/O. */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { backfillWorkflow } from '../src/workflows';
import type { BackfillReport } from '../src/common/results';
import { fakeActivities, type FakeOptions } from './support/fake-activities';
import { createTimeSkippingEnv, WORKFLOWS_PATH } from './support/temporal';

describe('backfill workflow (time-skipping server)', function () {
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
    const taskQueue = `wf-test-${++n}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    const outcome = await worker.runUntil(
      env.client.workflow
        .execute(backfillWorkflow, { args: [input], taskQueue, workflowId: `backfill-test-${n}` })
        .then((report: BackfillReport) => ({ report, error: undefined }))
        .catch((error: unknown) => ({ report: undefined, error })),
    );
    return { ...outcome, ...fake };
  }

  const input = { bucket: '/tmp/lake', startDate: '2025-10-01', endDate: '2025-10-07', chunkSizeDays: 3, featureVersion: 'v1' };

  it('plans chunks and runs each chunk\'s steps in order', async () => {
    const { report, calls } = await run(input);
    assert.ok(report);
    assert.equal(report.status, 'succeeded', JSON.stringify(report.chunks.map((c) => c.error)));
    assert.deepEqual(report.chunks.map((c) => c.chunk.id), ['2025-10-01_2025-10-03', '2025-10-04_2025-10-06', '2025-10-07_2025-10-07']);
    for (const chunk of report.chunks) {
      const steps: string[] = calls.filter((c) => c.chunkId === chunk.chunk.id).map((c) => c.step);
      assert.deepEqual(steps, ['spark', 'catalog', 'ingest', 'validate']);
      assert.equal(chunk.status, 'succeeded');
    }
    assert.equal(calls[0].step, 'preflight');
    assert.equal(report.totals.rowsWritten, 70);
    assert.equal(report.totals.recordsIngested, 70);
  });

  it('bounds the chunks in flight by maxConcurrentChunks and starts them oldest first', async () => {
    const { report, calls, maxInFlight } = await run(
      { ...input, chunkSizeDays: 1, maxConcurrentChunks: 2 },
      { stepMs: 50 },
    );
    assert.equal(report?.status, 'succeeded');
    assert.equal(maxInFlight(), 2);
    const sparkOrder = calls.filter((c) => c.step === 'spark').map((c) => c.chunkId);
    assert.deepEqual(sparkOrder.slice(0, 2).sort(), ['2025-10-01_2025-10-01', '2025-10-02_2025-10-02']);
    assert.equal(sparkOrder.at(-1), '2025-10-07_2025-10-07');
  });

  it('a failing step fails only its chunk, with the step and reason in the report', async () => {
    const { report, calls } = await run(input, {
      failStep: { step: 'ingest', chunkId: '2025-10-04_2025-10-06', message: 'feature group rt_card_features_v1 not found' },
    });
    assert.ok(report);
    assert.equal(report.status, 'partially_failed');
    const failed = report.chunks[1];
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.step, 'ingest');
    assert.match(failed.error?.message ?? '', /feature group rt_card_features_v1 not found/);
    assert.deepEqual(failed.rowsPerDt, { '2025-10-04': 10, '2025-10-05': 10, '2025-10-06': 10 }, 'what the chunk got done before failing is kept');
    assert.ok(!calls.some((c) => c.chunkId === failed.chunk.id && c.step === 'validate'));
    assert.deepEqual([report.chunks[0].status, report.chunks[2].status], ['succeeded', 'succeeded']);
    assert.equal(report.totals.failed, 1);
  });

  for (const [name, bad, field] of [
    ['end before start', { endDate: '2025-09-01' }, 'endDate'],
    ['a malformed date', { startDate: '01/10/2025' }, 'startDate'],
    ['chunk size 0', { chunkSizeDays: 0 }, 'chunkSizeDays'],
    ['a negative chunk size', { chunkSizeDays: -1 }, 'chunkSizeDays'],
    ['an unknown feature version', { featureVersion: 'v7' }, 'featureVersion'],
  ] as const) {
    it(`rejects ${name} before any work starts`, async () => {
      const { error, calls } = await run({ ...input, ...bad });
      assert.ok(error instanceof WorkflowFailedError, `expected the workflow to fail, got ${String(error)}`);
      const cause = error.cause as { type?: string; message: string };
      assert.equal(cause.type, 'InvalidInput');
      assert.match(cause.message, new RegExp(`invalid input: ${field}:`));
      assert.deepEqual(calls, [], 'no activity ran');
    });
  }

  it('dry run inspects and plans without running chunks', async () => {
    const { report, calls } = await run({ ...input, dryRun: true });
    assert.equal(report?.status, 'dry_run');
    assert.deepEqual(calls.map((c) => c.step), ['preflight', 'inspectLake']);
    assert.deepEqual(report?.dryRun?.bronzeMissing, ['2025-10-01']);
  });
});
