/**
 * The memory ladder and data sizing on the AWS path: the Spark activity against the EMR job-run
 * double. A run that FAILED with an out-of-memory state detail is submitted again with the next
 * rung of spark.executor.memory; at the top of the ladder the chunk fails for good.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import * as assert from 'node:assert/strict';
import { createActivities } from '../../src/activities';
import { EmrServerlessRunner } from '../../src/activities/aws/emr';
import { SPARK_SIZES } from '../../src/activities/aws/spark-sizes';
import { bronzeTable, manifestUri } from '../../src/activities/lake-paths';
import type { MemoryLadder } from '../../src/common/memory-ladder';
import type { SparkJobResult } from '../../src/common/results';
import { sparkMemoryLadder } from '../../src/config';
import { EmrDouble, type DoubleJobRun } from './emr-double';
import { MemoryLake } from './memory-lake';
import { awsRequest, firstChunk } from './support';

const quiet = { logger: new DefaultLogger('ERROR') };
/** What EMR Serverless says of a run whose executors ran out of heap. */
const OOM_DETAILS =
  'Job failed, please check complete logs in configured logging destination. ExitCode: 1. Last few exceptions: ' +
  'Caused by: java.lang.OutOfMemoryError: Java heap space\nException in thread "main" org.apache.spark.SparkException';

/** The --conf values a run was submitted with. */
function confOf(run: DoubleJobRun): Record<string, string> {
  const params = (run.jobDriver as { sparkSubmit: { sparkSubmitParameters: string } }).sparkSubmit
    .sparkSubmitParameters;
  return Object.fromEntries([...params.matchAll(/--conf (\S+?)=(\S+)/g)].map((m) => [m[1], m[2]]));
}

describe('aws: memory ladder and sizing of the Spark activity (EMR job-run double)', function () {
  const double = new EmrDouble();
  let runner: EmrServerlessRunner;
  const request = awsRequest({ jobCodeKey: 'jobs/card-features/0123456789ab' });
  const chunk = firstChunk(request);
  const ladder = sparkMemoryLadder('aws', {}) as MemoryLadder;

  const activities = (lake: MemoryLake) =>
    createActivities({
      name: 'test',
      lake,
      spark: runner,
      catalog: {} as never,
      featureStoreFor: () => ({}) as never,
      pollIntervalMs: 10,
      sparkSizes: SPARK_SIZES,
      memoryLadder: ladder,
    });
  const lakeWithManifest = () => {
    const lake = new MemoryLake();
    lake.texts.set(manifestUri(request, chunk.id, 'run-1'), JSON.stringify({ coverage_gaps: [], output_rows: 3 }));
    // A bronze file of the chunk's first day, for the sizing (a few bytes: the small tier).
    lake.parquet.set(`${bronzeTable(request)}/dt=${chunk.startDate}/part-0.json.gz`, [{}, {}, {}]);
    return lake;
  };

  before(async () => {
    await double.start();
    double.applications.set('app-1', { state: 'STARTED', type: 'Spark' });
    const client = double.client();
    runner = new EmrServerlessRunner(client);
  });
  after(async () => double.stop());

  it('the default ladder is 8g, 16g, 30g of executor memory; BACKFILL_SPARK_MEMORY_MAX caps it', () => {
    assert.deepEqual(ladder, { key: 'spark.executor.memory', rungs: ['8g', '16g', '30g'] });
    assert.deepEqual(sparkMemoryLadder('aws', { BACKFILL_SPARK_MEMORY_MAX: '20g' })?.rungs, ['8g', '16g']);
    assert.equal(sparkMemoryLadder('aws', { BACKFILL_SPARK_MEMORY_MAX: '0' }), undefined);
    assert.throws(
      () => sparkMemoryLadder('aws', { BACKFILL_SPARK_MEMORY_LADDER: '8g,lots' }),
      /"lots" is not a Spark memory size/,
    );
  });

  it('a run that FAILED out of memory is submitted again with the next rung, and the result says what it needed', async () => {
    const before = double.runs.length;
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING', 'FAILED'], stateDetails: OOM_DETAILS });
    double.scripts.push({ states: ['SUBMITTED', 'RUNNING', 'SUCCESS'] });
    const env = new MockActivityEnvironment({ attempt: 1 }, quiet);
    const heartbeats: { sparkConf?: Record<string, string> }[] = [];
    env.on('heartbeat', (d: { sparkConf?: Record<string, string> }) => heartbeats.push(d));
    const result = (await env.run(activities(lakeWithManifest()).runSparkJob, {
      request,
      chunk,
      runName: 'wf-oom/chunk',
      runId: 'run-1',
    })) as SparkJobResult;

    const runs = double.runs.slice(before);
    assert.equal(runs.length, 2);
    // Sized small from the bronze bytes (the tuning table's small tier), then a rung up.
    assert.equal(confOf(runs[0])['spark.executor.memory'], '8g');
    assert.equal(confOf(runs[0])['spark.executor.instances'], '2');
    assert.equal(confOf(runs[1])['spark.executor.memory'], '16g');
    assert.equal(confOf(runs[1])['spark.executor.instances'], '2', 'only the memory changes');
    assert.equal(result.jobRunId, runs[1].jobRunId);
    assert.equal(result.sparkSettings?.tier, 'small');
    assert.deepEqual(result.sparkSettings?.escalations, [
      {
        key: 'spark.executor.memory',
        from: '8g',
        to: '16g',
        signature: 'java.lang.OutOfMemoryError: Java heap space',
      },
    ]);
    // The settings of the followed run are in the heartbeat, so a next attempt keeps the rung.
    assert.equal(heartbeats.at(-1)?.sparkConf?.['spark.executor.memory'], '16g');
  });

  it('out of memory at the top rung fails for good, naming the memory; a retried attempt resumes at its rung', async () => {
    const before = double.runs.length;
    const executorLost =
      'ExecutorLostFailure (executor 3 exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding memory limits';
    double.scripts.push({ states: ['SUBMITTED', 'FAILED'], stateDetails: executorLost });
    double.scripts.push({ states: ['SUBMITTED', 'FAILED'], stateDetails: executorLost });
    // A previous attempt had climbed to 16g: this one goes on from there (30g), not from 8g.
    const env = new MockActivityEnvironment(
      {
        attempt: 2,
        heartbeatDetails: {
          backend: 'emr-serverless',
          id: 'gone',
          applicationId: 'app-1',
          sparkConf: { 'spark.executor.memory': '16g' },
        },
      },
      quiet,
    );
    const err = await env
      .run(activities(lakeWithManifest()).runSparkJob, { request, chunk, runName: 'wf-oom-top/chunk', runId: 'run-1' })
      .then(
        () => assert.fail('expected an out-of-memory failure'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'SparkOutOfMemory');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /out of memory at 30g, the top of the memory ladder/);
    const runs = double.runs.slice(before);
    assert.deepEqual(
      runs.map((r) => confOf(r)['spark.executor.memory']),
      ['16g', '30g'],
    );
  });
});
