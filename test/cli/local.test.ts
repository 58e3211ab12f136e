/**
 * `backfill run --local` end to end: a real Temporal dev server, the CLI's in-process worker with
 * the local backends (real spark-submit), a generated lake. One real backfill (2 days, ~200
 * events a day); the rest are dry runs, which take seconds.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { main } from '../../src/client/cli';
import type { CostEstimate } from '../../src/client/cost';
import type { BackfillReport } from '../../src/common/results';
import { goldRows, makeSampleLake, openLakeStore, snapshot } from '../support/lake';
import { localFeatureStoreFile } from '../../src/activities/local/feature-store';
import { createDevServerEnv } from '../support/temporal';
import { fakeIo } from './support';

describe('cli: backfill run --local (dev server, spark-submit)', function () {
  let env: TestWorkflowEnvironment;
  let lake: string;
  let state: string;
  const storeFile = () => localFeatureStoreFile(lake);
  const saved: Record<string, string | undefined> = {};
  const setEnv = (name: string, value: string) => {
    saved[name] = process.env[name];
    process.env[name] = value;
  };

  before(async () => {
    // Two days of events; the generator also writes a few late arrivals on the day after.
    lake = makeSampleLake({ start: '2025-10-01', days: 2, eventsPerDay: 200, cards: 30 });
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-cli-state-'));
    env = await createDevServerEnv();
    setEnv('TEMPORAL_ADDRESS', env.address);
    setEnv('BACKFILL_STATE_DIR', state);
    setEnv('BACKFILL_TASK_QUEUE', 'cli-local');
  });

  after(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await env?.teardown();
    fs.rmSync(lake, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  });

  // --online-horizon-days 0: every day through the API into both tables of the SQLite store, which the tests read.
  const run = (...flags: string[]) => [
    'run',
    '--local',
    '--bucket',
    lake,
    '--online-horizon-days',
    '0',
    '--start-date',
    '2025-10-01',
    ...flags,
  ];

  it('a dry run prints the chunk plan, bronze found and missing, and a cost estimate, and writes nothing', async () => {
    const before = snapshot(lake);
    const io = fakeIo();
    assert.equal(
      await main(run('--end-date', '2025-10-04', '--chunk-size-days', '2', '--dry-run'), io, { pollMs: 200 }),
      0,
      io.stderr(),
    );
    const out = io.stdout();
    assert.match(out, /^Dry run backfill-rt_card_features_v1-v1-2025-10-01-2025-10-04-dry-run: nothing was written/);
    assert.match(out, /2025-10-01 \.\. 2025-10-04: 4 day\(s\) in 2 chunk\(s\)/);
    // chunk, days, bronze read, days to write, skip, without bronze, Spark size, cost
    assert.match(out, /2025-10-01_2025-10-02 +2 +[\d.]+ KiB +2 +0 +0 +small: driver 2g, 4 partitions +\$\d+\.\d\d/);
    assert.match(out, /2025-10-03_2025-10-04 +2 +[\d.]+ (KiB|B) +1 +0 +1 +small: driver 2g, 4 partitions +\$\d+\.\d\d/);
    assert.match(out, /found: 2025-10-01 \([\d.]+ KiB\), 2025-10-02 \([\d.]+ KiB\), 2025-10-03 \([\d.]+ (KiB|B)\)/);
    assert.match(out, /missing in the range \(no gold will be written for these days\): 2025-10-04\n/);
    assert.match(out, /missing context \(lookback\/lateness; .*\): 2025-09-30, 2025-10-05\n/);
    assert.match(out, /would skip \(without --overwrite existing partitions are kept\): none/);
    assert.match(
      out,
      /Estimated EMR Serverless cost: \$\d+\.\d\d \([\d.]+ vCPU-hours, [\d.]+ GB-hours\) for [\d.]+ KiB of bronze read/,
    );
    assert.match(
      out,
      /prices: \$0\.052624 per vCPU-hour, \$0\.0057785 per GB-hour \(change with --price-vcpu-hour, --price-gb-hour\)/,
    );
    assert.doesNotMatch(io.stderr(), /chunks .* done/, 'no progress lines for a dry run');
    assert.deepEqual(snapshot(lake), before, 'the lake is unchanged');
    assert.ok(!fs.existsSync(storeFile()), 'the feature store was not even opened');
  });

  it('a dry run with --json gives the report and the estimate at the prices given', async () => {
    const io = fakeIo();
    assert.equal(
      await main(
        run('--end-date', '2025-10-02', '--dry-run', '--json', '--price-vcpu-hour', '1', '--price-gb-hour', '0.5'),
        io,
      ),
      0,
      io.stderr(),
    );
    const { estimate, ...report } = JSON.parse(io.stdout()) as BackfillReport & { estimate: CostEstimate };
    assert.equal(report.status, 'dry_run');
    assert.deepEqual(
      report.dryRun?.chunks.map((c) => c.id),
      ['2025-10-01_2025-10-01', '2025-10-02_2025-10-02'],
    );
    assert.deepEqual(estimate.prices, { vcpuHour: 1, gbHour: 0.5 });
    assert.equal(estimate.chunks.length, 2);
    assert.ok(Math.abs(estimate.usd - (estimate.vcpuHours + 0.5 * estimate.gbHours)) < 1e-9);
    const bronze = report.dryRun!.bronzePresent;
    // Chunk 10-01 reads 09-30 (missing), 10-01 and the lateness day 10-02.
    assert.equal(estimate.chunks[0].inputBytes, bronze['2025-10-01'] + bronze['2025-10-02']);
    assert.ok(!fs.existsSync(storeFile()));
  });

  let report: BackfillReport;

  it('follows a real backfill with log lines (not a terminal) and ends with the report', async () => {
    const io = fakeIo(false);
    const code = await main(
      run('--end-date', '2025-10-02', '--max-concurrent-chunks', '2', '--state-machine-arn', 'arn:aws:states:x'),
      io,
      { pollMs: 500 },
    );
    const err = io.stderr();
    assert.equal(code, 0, `${err}\n${io.stdout()}`);
    const workflowId = 'backfill-rt_card_features_v1-v1-2025-10-01-2025-10-02';
    assert.equal(io.errLines[0], 'notice: --state-machine-arn is ignored: Temporal replaces Step Functions.');
    assert.equal(io.errLines[1], `backfill started: ${workflowId} (task queue cli-local, local backend)`);
    assert.match(io.errLines[2], /^Web UI: http/);
    const stamp = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    for (const id of ['2025-10-01_2025-10-01', '2025-10-02_2025-10-02']) {
      assert.match(err, new RegExp(`^${stamp} chunk ${id} started$`, 'm'));
      assert.match(err, new RegExp(`^${stamp} chunk ${id} succeeded in \\S+: \\d+ rows, \\d+ records$`, 'm'));
    }
    assert.match(
      err,
      new RegExp(
        `^${stamp} running: chunks 0/2 done, 0 failed, 0 cancelled, 2 running, 0 pending; 0 rows, 0 records ingested; \\S+ elapsed, ETA --$`,
        'm',
      ),
    );
    assert.match(
      err,
      new RegExp(
        `^${stamp} succeeded: chunks 2/2 done, 0 failed, 0 cancelled, 0 running, 0 pending; \\d+ rows, \\d+ records ingested; \\S+ elapsed, ETA 0s$`,
        'm',
      ),
    );
    assert.doesNotMatch(err, /\r|\x1b/, 'no terminal control characters in logs');

    const handle = env.client.workflow.getHandle(workflowId);
    report = (await handle.result()) as BackfillReport;
    assert.equal(report.status, 'succeeded');
    const out = io.stdout();
    assert.match(
      out,
      new RegExp(
        `^Backfill ${workflowId}: SUCCEEDED\n  rt_card_features_v1 \\(v1\\), 2025-10-01 \\.\\. 2025-10-02, 2 chunk\\(s\\), took \\S+`,
      ),
    );
    for (const c of report.chunks) {
      const rows = (await goldRows(lake, 'v1', c.chunk.startDate)).length;
      assert.ok(rows > 150, `gold rows of ${c.chunk.startDate}: ${rows}`);
      assert.equal(c.rows, rows);
      assert.match(out, new RegExp(`${c.chunk.id} +succeeded +${rows} +${rows} +\\S+ +1 +passed`));
    }
    assert.match(
      out,
      new RegExp(`total +2/2 succeeded +${report.totals.rowsWritten} +${report.totals.recordsIngested}`),
    );
    assert.match(out, /Input: \d+ malformed line\(s\) quarantined, \d+ duplicate event\(s\) removed/);
    assert.match(out, /Validation: 2\/2 chunk\(s\) passed, 0 failed, 0 not validated/);
    assert.doesNotMatch(out, /Failures:/);
    const store = openLakeStore(lake);
    try {
      assert.equal(store.offlineRecords('rt_card_features_v1').length, report.totals.rowsWritten);
    } finally {
      store.close();
    }
  });

  it('a dry run after it shows the days that would be skipped, or overwritten with --overwrite', async () => {
    let io = fakeIo();
    assert.equal(await main(run('--end-date', '2025-10-02', '--dry-run'), io), 0, io.stderr());
    assert.match(io.stdout(), /Gold partitions already present \(feature_version=v1\): 2025-10-01, 2025-10-02/);
    assert.match(
      io.stdout(),
      /would skip \(without --overwrite existing partitions are kept\): 2025-10-01, 2025-10-02/,
    );
    assert.match(io.stdout(), /2025-10-01_2025-10-01 +1 +\S+ \S+ +0 +1 +0 /);
    io = fakeIo();
    assert.equal(await main(run('--end-date', '2025-10-02', '--dry-run', '--overwrite'), io), 0, io.stderr());
    assert.match(io.stdout(), /would overwrite \(--overwrite\): 2025-10-01, 2025-10-02/);
  });

  it('status of the finished backfill prints the same report', async () => {
    const io = fakeIo();
    assert.equal(await main(['status', '--start-date', '2025-10-01', '--end-date', '2025-10-02'], io), 0, io.stderr());
    assert.match(io.stdout(), /^Backfill backfill-rt_card_features_v1-v1-2025-10-01-2025-10-02: SUCCEEDED/);
    assert.match(io.stdout(), new RegExp(`total +2/2 succeeded +${report.totals.rowsWritten}`));
  });
});
