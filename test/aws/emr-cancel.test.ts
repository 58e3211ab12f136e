/**
 * The Spark activity when its attempt is cancelled, on the EMR job-run double: an operator's
 * cancel stops the run and waits until EMR says it stopped; a worker shutdown leaves the run
 * going and the next attempt follows it. The local runner stops its process either way.
 */
import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createActivities } from '../../src/activities';
import { EmrServerlessRunner } from '../../src/activities/aws/emr';
import type { JobHandle, SparkRunner } from '../../src/activities/backends';
import { manifestUri } from '../../src/activities/lake-paths';
import { LocalSparkRunner } from '../../src/activities/local/spark-submit';
import type { SparkJobResult } from '../../src/common/results';
import { EmrDouble } from './emr-double';
import { MemoryLake } from './memory-lake';
import { awsRequest, firstChunk } from './support';
import { until as untilShown } from '../support/until';

const quiet = { logger: new DefaultLogger('ERROR') };
/** Waits on something the double or a process shows, not on time. */
const until = (check: () => boolean, what: string) => untilShown(check, what, { timeoutMs: 10_000, everyMs: 5 });

function activitiesFor(spark: SparkRunner, lake = new MemoryLake()) {
  return createActivities({
    name: 'test',
    lake,
    spark,
    catalog: {} as never,
    featureStoreFor: () => ({}) as never,
    pollIntervalMs: 10,
  });
}

describe('aws: the Spark activity cancelled (EMR job-run double)', function () {
  const double = new EmrDouble();
  let runner: EmrServerlessRunner;
  const request = awsRequest({ jobCodeKey: 'jobs/card-features/0123456789ab' });
  const chunk = firstChunk(request);

  before(async () => {
    await double.start();
    double.applications.set('app-1', { state: 'STARTED', type: 'Spark' });
    const client = double.client();
    runner = new EmrServerlessRunner(client, { cancelPollMs: 5 });
  });
  after(async () => double.stop());

  it('an operator cancel sends CancelJobRun and ends only when EMR says CANCELLED, reporting that state', async () => {
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING'] }); // RUNNING until cancelled
    double.cancellingSteps = 3;
    const env = new MockActivityEnvironment({ attempt: 1 }, quiet);
    let heartbeats = 0;
    env.on('heartbeat', () => (heartbeats += 1));
    let callsAtEnd: string[] = [];
    const running = env
      .run(activitiesFor(runner).runSparkJob, { request, chunk, runName: 'wf-cancel/chunk', runId: 'run-1' })
      .finally(() => (callsAtEnd = [...double.calls]));
    await until(() => double.calls.includes('GetJobRun RUNNING'), 'the run RUNNING');
    const beforeCancel = heartbeats;
    env.cancel(); // reason CANCELLED, cancelRequested: what a workflow cancel delivers
    const err = await running.then(
      () => assert.fail('expected a cancellation'),
      (e: unknown) => e,
    );

    assert.ok(err instanceof CancelledFailure, String(err));
    const run = double.runs.at(-1)!;
    assert.match(
      err.message,
      new RegExp(
        `^Spark job ${run.jobRunId} of chunk ${chunk.id} cancelled; the run ended cancelled: EMR job run ${run.jobRunId} CANCELLED`,
      ),
    );
    assert.deepEqual((err.details[0] as { state: string }).state, 'cancelled');
    const afterCancel = callsAtEnd.slice(callsAtEnd.indexOf('CancelJobRun'));
    assert.deepEqual(afterCancel, [
      'CancelJobRun',
      'GetJobRun CANCELLING',
      'GetJobRun CANCELLING',
      'GetJobRun CANCELLING',
      'GetJobRun CANCELLED',
    ]);
    assert.ok(heartbeats > beforeCancel, 'heartbeats while waiting for the run to stop');
    double.cancellingSteps = 1;
  });

  it('a worker shutdown leaves the run going, fails the attempt retryably, and the next attempt follows the same run', async () => {
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING'] });
    const lake = new MemoryLake();
    await lake.writeText(
      manifestUri(request, chunk.id, 'run-1'),
      JSON.stringify({ written_partitions: [], output_rows: 0 }),
    );
    const activities = activitiesFor(runner, lake);
    const starts = double.count('StartJobRun');
    const cancels = double.count('CancelJobRun');

    const env = new MockActivityEnvironment({ attempt: 1 }, quiet);
    let last: JobHandle | undefined;
    env.on('heartbeat', (d: JobHandle) => (last = d));
    const first = env.run(activities.runSparkJob, { request, chunk, runName: 'wf-deploy/chunk', runId: 'run-1' });
    await until(() => double.calls.includes('GetJobRun RUNNING') && last !== undefined, 'the run RUNNING');
    const calls = double.calls.length;
    env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    const err = await first.then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'WorkerShutdown');
    assert.equal(err.nonRetryable, false, 'retryable: the next attempt follows the run');
    const run = double.runs.at(-1)!;
    assert.match(err.message, new RegExp(`Spark job ${run.jobRunId} .*the run goes on`));
    assert.equal(double.count('CancelJobRun'), cancels, 'no CancelJobRun');
    assert.equal(run.cancelled, false);

    // The retry, with the heartbeat details the server kept: the same run, no new StartJobRun.
    const env2 = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: last }, quiet);
    const second = env2.run(activities.runSparkJob, {
      request,
      chunk,
      runName: 'wf-deploy/chunk',
      runId: 'run-1',
    }) as Promise<SparkJobResult>;
    await until(
      () => double.calls.slice(calls).filter((c) => c === 'GetJobRun RUNNING').length >= 2,
      'the retry polling',
    );
    double.finish(run);
    assert.equal((await second).jobRunId, run.jobRunId);
    assert.equal(double.count('StartJobRun'), starts + 1, 'one StartJobRun for the chunk');
  });

  it('a retry that lost the heartbeat details still finds the same run by its client token', async () => {
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING'] });
    const lake = new MemoryLake();
    await lake.writeText(
      manifestUri(request, chunk.id, 'run-1'),
      JSON.stringify({ written_partitions: [], output_rows: 0 }),
    );
    const activities = activitiesFor(runner, lake);
    const env = new MockActivityEnvironment({ attempt: 1 }, quiet);
    const first = env.run(activities.runSparkJob, { request, chunk, runName: 'wf-token/chunk', runId: 'run-1' });
    await until(() => double.calls.at(-1) === 'GetJobRun RUNNING', 'the run RUNNING');
    env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    await assert.rejects(first, /WORKER_SHUTDOWN|the run goes on/);
    const run = double.runs.at(-1)!;
    const runs = double.runs.length;
    double.finish(run);
    // Same workflow run (MockActivityEnvironment's run id) and run name: the same client token.
    const env2 = new MockActivityEnvironment({ attempt: 2 }, quiet);
    const result = (await env2.run(activities.runSparkJob, {
      request,
      chunk,
      runName: 'wf-token/chunk',
      runId: 'run-1',
    })) as SparkJobResult;
    assert.equal(result.jobRunId, run.jobRunId);
    assert.equal(double.runs.length, runs, 'no second run');
  });
});

describe('local: the Spark activity cancelled (spark-submit stand-in)', function () {
  let dir: string;
  let runner: LocalSparkRunner;
  const request = awsRequest({ bucket: '/tmp/lake-not-used' });
  const chunk = firstChunk(request);

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-cancel-'));
    // Stands in for spark-submit: runs until killed (the runner only starts it and watches it).
    const fake = path.join(dir, 'spark-submit');
    fs.writeFileSync(fake, '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
    runner = new LocalSparkRunner({
      sparkSubmit: fake,
      python: process.execPath,
      jobDir: dir,
      logDir: path.join(dir, 'logs'),
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a worker shutdown stops the local run (it cannot outlive its worker) and waits until the process is gone', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 }, quiet);
    let handle: JobHandle | undefined;
    env.on('heartbeat', (d: JobHandle) => (handle = d));
    const running = env.run(activitiesFor(runner).runSparkJob, {
      request,
      chunk,
      runName: 'wf-local/chunk',
      runId: 'run-1',
    });
    await until(() => handle !== undefined, 'the local run');
    const pid = Number(handle!.id);
    env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    await assert.rejects(running, CancelledFailure);
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the process is gone when the attempt ends');
  });

  it('cancel returns the state the run ended in', async () => {
    const handle = await runner.submit({ request, chunk, args: [], runName: 'wf-local-2/chunk' });
    const final = await runner.cancel(handle);
    assert.equal(final.state, 'cancelled');
    assert.match(final.detail!, /SIGKILL/);
    assert.throws(() => process.kill(Number(handle.id), 0), /ESRCH/);
  });
});
