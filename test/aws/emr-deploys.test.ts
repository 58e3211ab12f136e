/**
 * Deploys during one long EMR run (issue 20 item 6), on the EMR job-run double and a dev server:
 * each worker shutdown detaches the Spark activity (the run goes on), and used to spend one of its
 * three attempts, so the third deploy failed the chunk while the run went on; a retry then started
 * a second job (new client token) writing the same run=R directories. In-process workers with the
 * real Spark activity (the chunk's other steps are fakes), stopped as a deploy stops them.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { EmrServerlessRunner } from '../../src/activities/aws/emr';
import { manifestUri } from '../../src/activities/lake-paths';
import type { ChunkResult } from '../../src/common/results';
import { fakeActivities } from '../support/fake-activities';
import { createDevServerEnv, WORKFLOWS_PATH } from '../support/temporal';
import { until as untilShown } from '../support/until';
import { EmrDouble } from './emr-double';
import { MemoryLake } from './memory-lake';
import { awsRequest, firstChunk } from './support';

const until = (check: () => boolean, what: string) => untilShown(check, what, { timeoutMs: 120_000, everyMs: 20 });

describe('aws: deploys during one EMR run (EMR job-run double, dev server, in-process workers)', function () {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  const double = new EmrDouble();
  const request = awsRequest({ jobCodeKey: 'jobs/card-features/0123456789ab' });
  const chunk = firstChunk(request);
  let n = 0;

  before(async () => {
    await double.start();
    double.applications.set('app-1', { state: 'STARTED', type: 'Spark' });
    env = await createDevServerEnv();
    bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: undefined });
  });
  after(async () => {
    await env?.teardown();
    await double.stop();
  });

  /** A worker with the real Spark activity on the double; stop() is a deploy's SIGTERM (the SDK's shutdown). */
  async function startWorker(taskQueue: string, lake: MemoryLake) {
    const real = createActivities({
      name: 'aws-test',
      lake,
      spark: new EmrServerlessRunner(double.client(), { cancelPollMs: 5 }),
      catalog: {} as never,
      featureStoreFor: () => ({}) as never,
      pollIntervalMs: 20,
    });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: { ...fakeActivities().activities, runSparkJob: real.runSparkJob, checkRequest: real.checkRequest },
      shutdownGraceTime: '100 milliseconds',
    });
    const running = worker.run();
    return {
      stop: async () => {
        worker.shutdown();
        await running;
      },
    };
  }

  /** A lake holding the manifest the job run writes at its end (the double runs no Spark). */
  async function lakeFor(runId: string): Promise<MemoryLake> {
    const lake = new MemoryLake();
    await lake.writeText(
      manifestUri(request, chunk.id, runId),
      JSON.stringify({ written_partitions: [], output_rows: 0 }),
    );
    return lake;
  }

  const runningPolls = (from: number) => double.calls.slice(from).filter((c) => c === 'GetJobRun RUNNING').length;

  it('four worker shutdowns during one run: the chunk still succeeds, with one StartJobRun and no CancelJobRun', async () => {
    const taskQueue = `emr-deploys-${++n}`;
    const lake = await lakeFor('run-1');
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING'] }); // RUNNING until the test finishes it
    const starts = double.count('StartJobRun');
    const runsBefore = double.runs.length;
    let worker = await startWorker(taskQueue, lake);
    const handle = await env.client.workflow.start('chunkWorkflow', {
      args: [{ request, chunk, runId: 'run-1' }],
      taskQueue,
      workflowId: `emr-deploys/chunk-${n}`,
    });
    let result: ChunkResult;
    const run = () => double.runs[runsBefore];
    try {
      for (let deploy = 1; deploy <= 4; deploy++) {
        const seen = double.calls.length;
        await until(() => runningPolls(seen) >= 2, `the run followed before deploy ${deploy}`);
        await worker.stop();
        worker = await startWorker(taskQueue, lake);
      }
      const seen = double.calls.length;
      await until(() => runningPolls(seen) >= 1, 'the run followed after the last deploy');
      double.finish(run());
      result = (await handle.result()) as ChunkResult;
    } finally {
      await worker.stop();
    }

    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(result.spark?.jobRunId, run().jobRunId);
    assert.equal(double.count('StartJobRun') - starts, 1, 'one StartJobRun');
    assert.equal(double.runs.length - runsBefore, 1, 'one job run');
    assert.equal(run().cancelled, false, 'no CancelJobRun reached the run');
  });

  it('a new chunk workflow run (retry-failed) while the first run still runs follows it: no second job', async () => {
    const taskQueue = `emr-deploys-${++n}`;
    const lake = await lakeFor('run-2');
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING'] });
    const runsBefore = double.runs.length;
    const starts = double.count('StartJobRun');
    const worker = await startWorker(taskQueue, lake);
    const workflowId = `emr-retry/chunk-${n}`;
    const args = [{ request, chunk, runId: 'run-2' }];
    const seen = double.calls.length;
    const first = await env.client.workflow.start('chunkWorkflow', { args, taskQueue, workflowId });
    await until(() => runningPolls(seen) >= 2, 'the first run RUNNING');
    // The chunk's workflow ended while its job ran on (as when its attempts ran out), and the backfill's
    // retry-failed starts the chunk again under the same workflow id.
    await first.terminate('the chunk ended while its job ran on');
    await first.result().catch((err: unknown) => assert.ok(err instanceof WorkflowFailedError));
    const second = await env.client.workflow.start('chunkWorkflow', { args, taskQueue, workflowId });
    const again = double.calls.length;
    // The second run's attempt decided (looked runs up, or submitted) and then followed a RUNNING run.
    await until(() => {
      const calls = double.calls.slice(again);
      const decided = calls.findIndex((c) => c === 'ListJobRuns' || c === 'StartJobRun');
      return decided >= 0 && calls.slice(decided).includes('GetJobRun RUNNING');
    }, 'the second chunk run following a run');
    const run = double.runs[runsBefore];
    double.finish(run);
    const result = (await second.result()) as ChunkResult;
    await worker.stop();

    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(
      result.spark?.jobRunId,
      run.jobRunId,
      `it followed the first run: ${JSON.stringify({ cancelled: run.cancelled, calls: double.calls.slice(seen) })}`,
    );
    assert.equal(double.runs.length - runsBefore, 1, 'no second job run');
    assert.equal(double.count('StartJobRun') - starts, 1, 'one StartJobRun');
  });

  it('real failures still end the Spark step after three attempts (counted in heartbeat details), naming the count', async () => {
    const taskQueue = `emr-deploys-${++n}`;
    const lake = await lakeFor('run-3');
    for (let i = 0; i < 4; i++) double.scripts.push({ states: ['SUBMITTED', 'FAILED'], stateDetails: 'capacity' });
    const runsBefore = double.runs.length;
    const worker = await startWorker(taskQueue, lake);
    let error: unknown;
    try {
      const handle = await env.client.workflow.start('chunkWorkflow', {
        args: [{ request, chunk, runId: 'run-3' }],
        taskQueue,
        workflowId: `emr-failures/chunk-${n}`,
      });
      error = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
    } finally {
      await worker.stop();
    }
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.match(String(error.cause?.message), /failed at spark: .*FAILED: capacity/);
    assert.equal(double.runs.length - runsBefore, 3, 'three job runs, one per attempt, then no more');
  });
});
