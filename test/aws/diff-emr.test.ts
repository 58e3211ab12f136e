/**
 * `backfill diff --aws` wiring: the diff job goes through the EMR Serverless runner (against the EMR
 * double) with the deployed entry point and `diff --spec --output` in the lake, the spec names the
 * ledger's gold files of both sides, and a run that wrote no result is an error naming it.
 */
import * as assert from 'node:assert/strict';
import { EmrServerlessRunner } from '../../src/activities/aws/emr';
import { runDiffJob } from '../../src/activities/diff/run';
import { resolveSide } from '../../src/activities/diff/sides';
import { DIFF_FEATURES } from '../../src/client/commands/diff';
import { validateInput } from '../../src/common/input';
import { EmrDouble } from './emr-double';
import { addGoldDay, MemoryLake } from './memory-lake';
import { JOB_ROLE } from './support';

describe('backfill diff on EMR Serverless (EMR double)', () => {
  const emr = new EmrDouble();
  before(async () => {
    await emr.start();
    emr.applications.set('app-1', { state: 'STARTED', type: 'Spark' });
  });
  after(() => emr.stop());

  it('submits backfill_features.py diff with the spec in the lake, and names a missing result', async () => {
    const request = {
      ...validateInput({ bucket: 'lake', startDate: '2025-10-01', endDate: '2025-10-02', allowIncompleteDays: true }),
      emr: { appId: 'app-1', jobRole: JOB_ROLE },
      codeBucket: 'code',
      jobCodeKey: 'jobs/card-features/abc123',
    };
    const lake = new MemoryLake();
    const v2 = { ...request, featureVersion: 'v2' };
    for (const dt of ['2025-10-01', '2025-10-02']) {
      addGoldDay(lake, request, dt, 10);
      addGoldDay(lake, v2, dt, 10);
    }
    const days = ['2025-10-01', '2025-10-02'];
    const a = await resolveSide(lake, { request, kind: 'current' }, days);
    const b = await resolveSide(lake, { request: v2, kind: 'current' }, days);
    await assert.rejects(
      runDiffJob({
        lake,
        runner: new EmrServerlessRunner(emr.client()),
        request: v2,
        a,
        b,
        features: DIFF_FEATURES,
        topCards: 5,
        id: 'd1',
        pollMs: 1,
      }),
      /diff job jr\d+ succeeded but wrote no s3:\/\/lake\/_diffs\/d1\/result\.json/,
    );
    const run = emr.runs.at(-1)!;
    const driver = (run.jobDriver as { sparkSubmit: { entryPoint: string; entryPointArguments: string[] } })
      .sparkSubmit;
    assert.equal(driver.entryPoint, 's3://code/jobs/card-features/abc123/backfill_features.py');
    assert.deepEqual(driver.entryPointArguments, [
      'diff',
      '--spec',
      's3://lake/_diffs/d1/spec.json',
      '--output',
      's3://lake/_diffs/d1/result.json',
    ]);
    assert.equal(run.executionRoleArn, JOB_ROLE);
    const spec = JSON.parse((await lake.readText('s3://lake/_diffs/d1/spec.json'))!);
    assert.deepEqual(spec.a.days['2025-10-01'], [
      's3://lake/gold/card_features/feature_version=v1/dt=2025-10-01/run=run-1/part-00000.parquet',
    ]);
    assert.deepEqual(Object.keys(spec.b.days), days);
    assert.deepEqual(spec.features, ['txn_count_1h', 'txn_count_24h', 'amount_sum_24h', 'merchant_count_24h']);
  });
});
