/**
 * Self-healing chunks on the local backend, end to end: a real Temporal dev server, the worker's
 * activities, real spark-submit, the local feature store.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createLocalBackends } from '../src/activities/local';
import { formatReport } from '../src/client/report';
import { backfillWorkflow } from '../src/workflows';
import { makeSampleLake, openLakeStore } from './support/lake';
import { startBackfillWorker, type RunningWorker } from './support/worker';
import { createDevServerEnv, ROOT, VENV_BIN } from './support/temporal';

describe('self-healing chunks (dev server + spark-submit)', function () {
  let env: TestWorkflowEnvironment;
  let state: string;
  let worker: RunningWorker | undefined;
  const lakes: string[] = [];
  const days = ['2025-10-01', '2025-10-02', '2025-10-03'];

  before(async () => {
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-state-'));
    env = await createDevServerEnv();
    const backends = createLocalBackends({
      venvBin: VENV_BIN,
      // The job behind an entry that can make its driver need more memory (CARD_FEATURES_TEST_NEEDS_DRIVER_MEMORY_MB).
      jobDir: path.join(ROOT, 'test', 'support', 'oom-job'),
      stateDir: state,
      pollIntervalMs: 500,
      // Two rungs above the small tier's 2g would be too much for a test machine: one will do.
      memoryLadder: { key: 'spark.driver.memory', rungs: ['2g', '3g'] },
    });
    worker = await startBackfillWorker(env, 'self-healing', backends);
  });

  after(async () => {
    await worker?.stop();
    await env?.teardown();
    for (const lake of lakes) fs.rmSync(lake, { recursive: true, force: true });
    if (state) fs.rmSync(state, { recursive: true, force: true });
  });

  const newLake = () => {
    const lake = makeSampleLake({ start: days[0], days: 3, eventsPerDay: 200, cards: 20 });
    lakes.push(lake);
    return lake;
  };

  it('a 3-day chunk with one poisoned day publishes the two good days and names the bad one', async () => {
    const lake = newLake();
    // A gzip file cut short: the job recognises it as bad bronze (BadInput), not as a platform fault.
    const bad = path.join(lake, 'bronze/streaming/card_authorization/dt=2025-10-03/part-99999.json.gz');
    const whole = fs.readFileSync(
      path.join(lake, 'bronze/streaming/card_authorization/dt=2025-10-03', firstGz(lake, '2025-10-03')),
    );
    fs.writeFileSync(bad, whole.subarray(0, Math.floor(whole.length / 2)));
    const report = await env.client.workflow.execute(backfillWorkflow, {
      // No lateness days: day 2 then reads no bronze of day 3, so only day 3 is bad. onlineHorizonDays 0:
      // every day through the API, whose SQLite tables the test reads.
      args: [
        {
          bucket: lake,
          startDate: days[0],
          endDate: days[2],
          chunkSizeDays: 3,
          allowedLatenessDays: 0,
          onlineHorizonDays: 0,
        },
      ],
      taskQueue: 'self-healing',
      workflowId: 'bisect-poisoned',
    });
    assert.equal(report.status, 'failed'); // the one chunk did not publish all its days
    const [chunk] = report.chunks;
    assert.equal(chunk.chunk.id, '2025-10-01_2025-10-03');
    assert.deepEqual(
      chunk.badDays?.map((d) => d.dt),
      ['2025-10-03'],
    );
    assert.match(
      chunk.badDays![0].message,
      /part-99999\.json\.gz \(dt=2025-10-03\) cannot be read: the gzip data ends early/,
    );
    assert.deepEqual(Object.keys(chunk.rowsPerDt ?? {}), ['2025-10-01', '2025-10-02']);

    // The two good days are in the feature store, and nothing of the bad one.
    const store = openLakeStore(lake);
    try {
      const perDay = countBy(store.offlineRecords('rt_card_features_v1'), (r) => r.event_time.slice(0, 10));
      assert.deepEqual(Object.keys(perDay).sort(), ['2025-10-01', '2025-10-02']);
      assert.equal(perDay['2025-10-01'], chunk.rowsPerDt!['2025-10-01']);
      assert.equal(perDay['2025-10-02'], chunk.rowsPerDt!['2025-10-02']);
      assert.ok(perDay['2025-10-01'] > 100);
      assert.equal(report.totals.recordsIngested, perDay['2025-10-01'] + perDay['2025-10-02']);
    } finally {
      store.close();
    }
    const text = formatReport(report);
    assert.match(text, /split into days after a data failure: 2 of 3 day\(s\) published, bad: 2025-10-03/);
    assert.match(text, /bad day 2025-10-03: .*part-99999\.json\.gz/);
  });

  it('a run out of memory at the first rung is run again with the next one, and the report shows what it needed', async () => {
    const lake = newLake();
    // The test entry (test/support/oom-job): a driver with less than 2500 MiB meets a real java.lang.OutOfMemoryError.
    process.env.CARD_FEATURES_TEST_NEEDS_DRIVER_MEMORY_MB = '2500';
    let report;
    try {
      report = await env.client.workflow.execute(backfillWorkflow, {
        args: [{ bucket: lake, startDate: days[0], endDate: days[0], chunkSizeDays: 1 }],
        taskQueue: 'self-healing',
        workflowId: 'oom-ladder',
      });
    } finally {
      delete process.env.CARD_FEATURES_TEST_NEEDS_DRIVER_MEMORY_MB;
    }
    assert.equal(report.status, 'succeeded', JSON.stringify(report.chunks.map((c) => c.error)));
    const [chunk] = report.chunks;
    assert.equal(chunk.spark?.tier, 'small');
    assert.deepEqual(chunk.spark?.escalations, [
      {
        key: 'spark.driver.memory',
        from: '2g',
        to: '3g',
        signature: 'java.lang.OutOfMemoryError: Java heap space',
      },
    ]);
    assert.equal(chunk.attempts, 1, 'climbed within one attempt of the chunk');
    const store = openLakeStore(lake);
    try {
      assert.ok(store.counts('rt_card_features_v1').offline > 100);
      assert.equal(store.counts('rt_card_features_v1').offline, chunk.recordsWritten);
    } finally {
      store.close();
    }
    assert.match(
      formatReport(report),
      /2025-10-01_2025-10-01: needed spark\.driver\.memory=3g \(out of memory at 2g: java\.lang\.OutOfMemoryError: Java heap space\)/,
    );
  });

  it('the dry run sizes each chunk from its bronze bytes (small and large tiers), and --spark-conf wins', async () => {
    const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-sized-'));
    lakes.push(lake);
    const bronze = (dt: string) => path.join(lake, `bronze/streaming/card_authorization/dt=${dt}`);
    for (const [dt, bytes] of [
      ['2025-10-01', 5 * 2 ** 20],
      ['2025-10-02', 5 * 2 ** 20],
      ['2025-10-03', 60 * 2 ** 30], // sparse: 60 GiB as the listing sees it, no disk used
    ] as const) {
      fs.mkdirSync(bronze(dt), { recursive: true });
      fs.writeFileSync(path.join(bronze(dt), 'part-0.json.gz'), '');
      fs.truncateSync(path.join(bronze(dt), 'part-0.json.gz'), bytes);
    }
    const dryRun = (workflowId: string, extra: Record<string, unknown> = {}) =>
      env.client.workflow.execute(backfillWorkflow, {
        args: [
          {
            bucket: lake,
            startDate: '2025-10-01',
            endDate: '2025-10-03',
            chunkSizeDays: 1,
            allowedLatenessDays: 0,
            dryRun: true,
            ...extra,
          },
        ],
        taskQueue: 'self-healing',
        workflowId,
      });
    const plain = await dryRun('sized-dry-run');
    assert.deepEqual(
      plain.dryRun?.sizing?.map((s) => [s.chunkId, s.tier, s.bronzeBytes, s.conf['spark.driver.memory']]),
      [
        ['2025-10-01_2025-10-01', 'small', 5 * 2 ** 20, '2g'],
        ['2025-10-02_2025-10-02', 'small', 10 * 2 ** 20, '2g'],
        ['2025-10-03_2025-10-03', 'large', 60 * 2 ** 30 + 5 * 2 ** 20, '8g'],
      ],
    );
    const text = formatReport(plain);
    assert.match(text, /2025-10-01_2025-10-01 .* small: driver 2g, 4 partitions/);
    assert.match(text, /2025-10-03_2025-10-03 .* large: driver 8g, 16 partitions/);

    const overridden = await dryRun('sized-dry-run-conf', { sparkConf: { 'spark.sql.shuffle.partitions': '64' } });
    assert.deepEqual(
      overridden.dryRun?.sizing?.map((s) => [
        s.tier,
        s.conf['spark.sql.shuffle.partitions'],
        s.conf['spark.driver.memory'],
      ]),
      [
        ['small', '64', '2g'],
        ['small', '64', '2g'],
        ['large', '64', '8g'],
      ],
    );
    assert.match(formatReport(overridden), /2025-10-03_2025-10-03 .* large: driver 8g, 64 partitions/);
  });
});

function firstGz(lake: string, dt: string): string {
  const dir = path.join(lake, `bronze/streaming/card_authorization/dt=${dt}`);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.gz'))[0];
}

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}
