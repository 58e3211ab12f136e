/**
 * The activities that act enforce the worker's rules themselves, whatever the workflow passed
 * (issue 21): the Spark activity, called directly as a forged workflow would schedule it, refuses
 * sparkConf keys outside the allow list and BACKFILL_ALLOW_SPARK_CONF, a job role outside
 * BACKFILL_ALLOWED_JOB_ROLES, overlapping prefixes, and forged settings in an earlier attempt's
 * heartbeat, before anything is submitted.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import * as assert from 'node:assert/strict';
import { createActivities } from '../src/activities';
import type { SparkJobSpec, SparkRunner } from '../src/activities/backends';
import { validateInput, WORKER_DECIDES, type BackfillInput } from '../src/common/input';
import { planChunks } from '../src/common/plan';
import { MemoryLake } from './aws/memory-lake';

const quiet = { logger: new DefaultLogger('ERROR') };
const ROLE = 'arn:aws:iam::123456789012:role/backfill-emr';

/** A runner that records what would be submitted and runs nothing. */
function recordingRunner(): SparkRunner & { submitted: SparkJobSpec[] } {
  const submitted: SparkJobSpec[] = [];
  return {
    submitted,
    runsOutliveWorker: false,
    async submit(spec) {
      submitted.push(spec);
      return { backend: 'recording', id: `run-${submitted.length}` };
    },
    async reattach() {
      return undefined;
    },
    async status() {
      return { state: 'succeeded' };
    },
    async cancel() {
      return { state: 'cancelled' };
    },
    async activeRuns() {
      return [];
    },
  };
}

describe('activities enforce the worker rules (MockActivityEnvironment, recording runner)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of ['BACKFILL_ALLOW_SPARK_CONF', 'BACKFILL_ALLOWED_JOB_ROLES']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  function setup(extra: BackfillInput, heartbeatDetails?: unknown) {
    const request = validateInput(
      {
        bucket: 'lake',
        startDate: '2025-10-01',
        endDate: '2025-10-01',
        emr: { appId: 'app', jobRole: ROLE },
        ...extra,
      },
      { allowSparkConf: WORKER_DECIDES },
    );
    const chunk = planChunks(request.startDate, request.endDate, 1)[0];
    const runner = recordingRunner();
    const activities = createActivities({
      name: 'test',
      lake: new MemoryLake(),
      spark: runner,
      catalog: {} as never,
      featureStoreFor: () => ({}) as never,
      pollIntervalMs: 10,
    });
    const env = new MockActivityEnvironment({ attempt: 1, heartbeatDetails }, quiet);
    const run = () => env.run(activities.runSparkJob, { request, chunk, runName: 'forged/chunk', runId: 'run-1' });
    return { request, runner, run, activities };
  }

  async function refused(promise: Promise<unknown>, message: RegExp): Promise<void> {
    const err = await promise.then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'InvalidInput');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, message);
  }

  it('refuses spark.jars and extraJavaOptions (not allowed by the worker): nothing submitted', async () => {
    const { runner, run } = setup({
      sparkConf: { 'spark.jars': '/tmp/forged.jar', 'spark.driver.extraJavaOptions': '-Dforged=1' },
    });
    await refused(run(), /sparkConf\.spark\.jars: .*BACKFILL_ALLOW_SPARK_CONF/);
    assert.deepEqual(runner.submitted, []);
  });

  it('submits a key BACKFILL_ALLOW_SPARK_CONF allows, and the tuning keys without it', async () => {
    process.env.BACKFILL_ALLOW_SPARK_CONF = 'spark.jars.packages';
    const { runner, run } = setup({
      sparkConf: { 'spark.jars.packages': 'org.x:y:1', 'spark.executor.memory': '8g' },
    });
    // The recording runner writes no manifest: the run is submitted, then refused for its missing manifest.
    await run().catch(() => undefined);
    assert.equal(runner.submitted.length, 1);
    assert.equal(runner.submitted[0].request.sparkConf['spark.jars.packages'], 'org.x:y:1');
  });

  it('refuses a job role outside BACKFILL_ALLOWED_JOB_ROLES: nothing submitted', async () => {
    process.env.BACKFILL_ALLOWED_JOB_ROLES = 'arn:aws:iam::123456789012:role/etl-*';
    const { runner, run } = setup({});
    await refused(run(), /emr\.jobRole: .*BACKFILL_ALLOWED_JOB_ROLES/);
    assert.deepEqual(runner.submitted, []);
  });

  it('refuses overlapping prefixes, in the Spark, catalog, ingest and validation activities alike', async () => {
    const { request, runner, activities } = setup({});
    const forged = { ...request, prefixes: { bronze: 'bronze/streaming', silver: 'bronze/streaming', gold: 'gold' } };
    const chunk = planChunks(request.startDate, request.endDate, 1)[0];
    const env = new MockActivityEnvironment({ attempt: 1 }, quiet);
    await refused(env.run(activities.runSparkJob, { request: forged, chunk, runName: 'x' }), /prefixes\.bronze/);
    await refused(env.run(activities.refreshCatalog, { request: forged, chunk }), /prefixes/);
    await refused(env.run(activities.ingestFeatures, { request: forged, chunk }), /prefixes/);
    await refused(env.run(activities.inspectLake, forged), /prefixes/);
    assert.deepEqual(runner.submitted, []);
  });

  it("refuses forged settings carried in an earlier attempt's heartbeat: nothing submitted", async () => {
    const { runner, run } = setup({}, { backend: 'recording', id: 'old', sparkConf: { 'spark.plugins': 'x.Evil' } });
    await refused(run(), /sparkConf\.spark\.plugins/);
    assert.deepEqual(runner.submitted, []);
  });
});
