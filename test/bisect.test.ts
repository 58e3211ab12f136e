/** Bisecting a chunk after a data failure: workflow logic on the time-skipping server, activities without I/O. */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { BackfillReport } from '../src/common/results';
import { backfillWorkflow } from '../src/workflows';
import { fakeActivities, type FakeOptions } from './support/fake-activities';
import { createTimeSkippingEnv, WORKFLOWS_PATH } from './support/temporal';

describe('chunk bisect after a data failure (time-skipping server)', function () {
  let env: TestWorkflowEnvironment;
  let n = 0;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  async function run(options: FakeOptions) {
    const fake = fakeActivities(options);
    const taskQueue = `bisect-test-${++n}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    const report: BackfillReport = await worker.runUntil(
      env.client.workflow.execute(backfillWorkflow, {
        args: [{ bucket: '/tmp/lake', startDate: '2025-10-01', endDate: '2025-10-03', chunkSizeDays: 3 }],
        taskQueue,
        workflowId: `bisect-test-${n}`,
      }),
    );
    return { report, calls: fake.calls };
  }
  const sparkOf = (calls: { step: string; chunkId: string }[]) =>
    calls.filter((c) => c.step === 'spark').map((c) => c.chunkId);

  it('a bad-bronze failure runs the days one by one; the good ones publish, the bad one is named', async () => {
    const { report, calls } = await run({
      failStep: {
        step: 'spark',
        chunkId: '2025-10-01_2025-10-03,2025-10-02_2025-10-02',
        message: 'bronze file f (dt=2025-10-02) cannot be read: the gzip data ends early',
        type: 'BadBronzeInput',
      },
    });
    assert.deepEqual(sparkOf(calls), [
      '2025-10-01_2025-10-03',
      '2025-10-01_2025-10-01',
      '2025-10-02_2025-10-02',
      '2025-10-03_2025-10-03',
    ]);
    // Only the good days were published.
    assert.deepEqual(
      calls.filter((c) => c.step === 'ingest').map((c) => c.chunkId),
      ['2025-10-01_2025-10-01', '2025-10-03_2025-10-03'],
    );
    assert.equal(report.status, 'failed');
    const [chunk] = report.chunks;
    assert.deepEqual(chunk.badDays, [
      { dt: '2025-10-02', message: 'bronze file f (dt=2025-10-02) cannot be read: the gzip data ends early' },
    ]);
    assert.deepEqual(chunk.rowsPerDt, { '2025-10-01': 10, '2025-10-03': 10 });
    assert.equal(report.totals.rowsWritten, 20);
    assert.match(chunk.error!.message, /2 of 3 day\(s\) published, bad: 2025-10-02/);
  });

  it('a failure that is not about the data (capacity, a fault) is not split', async () => {
    const { report, calls } = await run({
      failStep: { step: 'spark', chunkId: '2025-10-01_2025-10-03', message: 'EMR capacity' },
    });
    assert.deepEqual(sparkOf(calls), ['2025-10-01_2025-10-03']);
    assert.equal(report.chunks[0].badDays, undefined);
    assert.match(report.chunks[0].error!.message, /EMR capacity/);
  });
});
