/**
 * What the Web UI shows, read through the same API it uses, on a real dev server with fake
 * activities: chunk children's static summary and details (DescribeWorkflowExecution), activity
 * summaries (user metadata of the scheduled events in the history), and the current details of the
 * backfill and chunk workflows (the __temporal_workflow_metadata query the UI sends).
 */
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { BackfillReport } from '../src/common/results';
import { backfillWorkflow } from '../src/workflows';
import { fakeActivities } from './support/fake-activities';
import { createDevServerEnv, WORKFLOWS_PATH } from './support/temporal';

type Metadata = temporal.api.sdk.v1.IWorkflowMetadata;

const decode = (p: Payload | null | undefined): string | undefined =>
  p ? defaultPayloadConverter.fromPayload<string>(p) : undefined;

/** Polls an observable (a query) until it holds; fails with the last value seen. */
async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < until) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

const currentDetails = async (handle: WorkflowHandle) =>
  (await handle.query<Metadata>('__temporal_workflow_metadata')).currentDetails ?? '';

/** Activity type -> summaries, from the ActivityTaskScheduled events' user metadata. */
async function activitySummaries(handle: WorkflowHandle): Promise<Record<string, string[]>> {
  const history = await handle.fetchHistory();
  const out: Record<string, string[]> = {};
  for (const e of history.events ?? []) {
    const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (type) (out[type] ??= []).push(decode(e.userMetadata?.summary) ?? '(none)');
  }
  return out;
}

describe('Web UI user metadata (dev server)', function () {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await createDevServerEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('names chunks and activities, and keeps the backfill and chunk details current', async () => {
    const taskQueue = 'web-ui';
    const workflowId = 'web-ui-backfill';
    let hold = true;
    const fake = fakeActivities({
      rowsPerDay: 1000,
      failStep: { step: 'spark', chunkId: '2025-10-03_2025-10-04', message: 'executor lost\non node 7' },
      // The first chunk waits in ingestion until the test has seen the running state.
      holdWhile: (step, chunk) => hold && step === 'ingest' && chunk.id === '2025-10-01_2025-10-02',
    });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(backfillWorkflow, {
        args: [
          {
            bucket: '/tmp/lake',
            startDate: '2025-10-01',
            endDate: '2025-10-04',
            chunkSizeDays: 2,
            featureVersion: 'v1',
            maxConcurrentChunks: 1,
          },
        ],
        taskQueue,
        workflowId,
      });
      const chunk1 = env.client.workflow.getHandle(`${workflowId}/chunk-2025-10-01_2025-10-02`);

      // While chunk 1 ingests: its details name the step, the backfill's count it as running.
      const running = await waitFor(
        () => currentDetails(handle),
        (d) => d.includes('| 2 | 0 | 0 | 1 | 1 |'),
        'a running chunk',
      );
      assert.match(running, /\*\*Status: running\*\*, rt_card_features_v1 \(v1\) 2025-10-01\.\.2025-10-04/);
      const chunkRunning = await waitFor(
        () => currentDetails(chunk1),
        (d) => /Step: .*ingest.* running/.test(d),
        'chunk 1 in ingest',
      );
      assert.match(chunkRunning, /^\*\*chunk 2025-10-01\.\.2025-10-02 \(2 days\)\*\*/);
      assert.match(chunkRunning, /Done: spark/);
      hold = false;

      const report: BackfillReport = await handle.result();
      assert.equal(report.status, 'partially_failed');

      // Chunk children: static summary and details, as DescribeWorkflowExecution returns them.
      const described = await chunk1.describe();
      assert.equal(await described.staticSummary(), 'chunk 2025-10-01..2025-10-02 (2 days)');
      assert.equal(
        decode(described.raw.executionConfig?.userMetadata?.summary),
        'chunk 2025-10-01..2025-10-02 (2 days)',
      );
      assert.match(
        (await described.staticDetails()) ?? '',
        /\*\*rt_card_features_v1\*\* \(feature version v1\), days 2025-10-01\.\.2025-10-02 \(2 days\)/,
      );
      const chunk2 = env.client.workflow.getHandle(`${workflowId}/chunk-2025-10-03_2025-10-04`);
      assert.equal(await (await chunk2.describe()).staticSummary(), 'chunk 2025-10-03..2025-10-04 (2 days)');

      // Activity summaries: what each does to what.
      assert.deepEqual(await activitySummaries(chunk1), {
        runSparkJob: ['Spark job (local) for 2025-10-01..2025-10-02'],
        refreshCatalog: ['catalog refresh for 2025-10-01..2025-10-02'],
        ingestFeatures: ['ingest 2025-10-01..2025-10-02 into rt_card_features_v1'],
        validateChunk: ['validate chunk 2025-10-01..2025-10-02'],
      });
      const parent = await activitySummaries(handle);
      assert.deepEqual(parent.preflight, ['preflight checks for rt_card_features_v1 2025-10-01..2025-10-04']);
      assert.deepEqual(parent.acquireLease, [
        'take the overlap lease on rt_card_features_v1 v1 2025-10-01..2025-10-04',
      ]);
      assert.deepEqual(parent.releaseLease, [
        'release the overlap lease on rt_card_features_v1 v1 2025-10-01..2025-10-04',
      ]);

      // Final details: counts, rows and records, the failed chunk with its step and reason, the retry command.
      const final = await currentDetails(handle);
      assert.match(final, /\*\*Status: partially_failed\*\*/);
      assert.ok(final.includes('| 2 | 1 | 1 | 0 | 0 |'), final);
      assert.ok(final.includes('Rows written: 2,000; records ingested: 2,000; dead-lettered: 0'), final);
      assert.ok(final.includes('- 2025-10-03..2025-10-04: at **spark**: executor lost on node 7'), final);
      assert.ok(final.includes(`\`backfill retry-failed ${workflowId}\``), final);
      assert.match(
        await currentDetails(chunk1),
        /Done: spark, (catalog, ingest|ingest, catalog), validate\n\nSucceeded$/,
      );
      assert.match(await currentDetails(chunk2), /Failed at \*\*spark\*\*: executor lost on node 7/);
    });
  });

  it('names the EMR application in the Spark summary on AWS requests', async () => {
    const taskQueue = 'web-ui-emr';
    const fake = fakeActivities();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(backfillWorkflow, {
        args: [
          {
            bucket: 'lake-bucket',
            codeBucket: 'code-bucket',
            startDate: '2025-10-01',
            endDate: '2025-10-01',
            featureVersion: 'v1',
            emr: { appId: '00fabc123', jobRole: 'arn:aws:iam::123456789012:role/job' },
            glue: { crawlerName: 'gold-crawler' },
          },
        ],
        taskQueue,
        workflowId: 'web-ui-emr',
      });
      await handle.result();
      const summaries = await activitySummaries(
        env.client.workflow.getHandle('web-ui-emr/chunk-2025-10-01_2025-10-01'),
      );
      assert.deepEqual(summaries.runSparkJob, ['EMR job for 2025-10-01 on app 00fabc123']);
      assert.deepEqual(summaries.refreshCatalog, ['catalog refresh for 2025-10-01 (crawler gold-crawler)']);
    });
  });
});
