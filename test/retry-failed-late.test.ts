/**
 * retryFailed sent once the backfill is past its chunks (issue 20 item 4): it used to answer
 * "queued again" while nothing would run the chunk, and the report ended with it pending. Now the
 * update is refused, saying so. Time-skipping server, fake activities whose final lease release
 * waits until the update was sent.
 */
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { BackfillReport } from '../src/common/results';
import { backfillWorkflow, retryFailedUpdate } from '../src/workflows';
import { fakeActivities } from './support/fake-activities';
import { createTimeSkippingEnv, WORKFLOWS_PATH } from './support/temporal';
import { until } from './support/until';

describe('retryFailed after the chunk phase (time-skipping server)', function () {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('is refused while the backfill releases its lease, and the report keeps the chunk failed', async () => {
    let holding = true;
    const fake = fakeActivities({
      failStep: { step: 'spark', chunkId: '2025-10-01_2025-10-02', message: 'job failed' },
      holdRelease: () => holding,
    });
    const taskQueue = 'retry-late';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    const outcome = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(backfillWorkflow, {
        args: [{ bucket: '/tmp/lake', startDate: '2025-10-01', endDate: '2025-10-02', chunkSizeDays: 2 }],
        taskQueue,
        workflowId: 'retry-late',
      });
      await until(() => fake.leaseCalls.some((c) => c.step === 'releaseLease'), 'the final lease release');
      const answer = await handle.executeUpdate(retryFailedUpdate).then(
        (ids) => ({ ids, error: undefined }),
        (error: unknown) => ({ ids: undefined, error }),
      );
      holding = false;
      const report: BackfillReport = await handle.result();
      return { answer, report };
    });
    const { answer, report } = outcome;
    assert.equal(answer.ids, undefined, `the update was accepted: ${JSON.stringify(answer.ids)}`);
    assert.ok(answer.error instanceof WorkflowUpdateFailedError, String(answer.error));
    assert.match(
      String((answer.error.cause as Error | undefined)?.message),
      /finished its chunks.*once it has ended, run retry-failed again/,
    );
    assert.equal(report.status, 'failed');
    assert.deepEqual(
      report.chunks.map((c) => c.status),
      ['failed'],
    );
    assert.equal(fake.calls.filter((c) => c.step === 'spark').length, 1, 'nothing ran the chunk again');
  });
});
