/**
 * Self-healing chunks on the local backend, end to end: a real Temporal dev server, the worker's
 * activities, real spark-submit, the local feature store.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { createLeaseActivities } from '../src/activities/lease';
import { createLocalBackends } from '../src/activities/local';
import { formatReport } from '../src/client/report';
import { backfillWorkflow } from '../src/workflows';
import { makeSampleLake, openLakeStore } from './support/lake';
import { createDevServerEnv, ROOT, VENV_BIN, WORKFLOWS_PATH } from './support/temporal';

describe('self-healing chunks (dev server + spark-submit)', function () {
  let env: TestWorkflowEnvironment;
  let state: string;
  let worker: Worker;
  let running: Promise<void>;
  const lakes: string[] = [];
  const days = ['2025-10-01', '2025-10-02', '2025-10-03'];

  before(async () => {
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-state-'));
    env = await createDevServerEnv();
    const backends = createLocalBackends({
      venvBin: VENV_BIN,
      jobDir: path.join(ROOT, 'spark_jobs'),
      stateDir: state,
      pollIntervalMs: 500,
    });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'self-healing',
      workflowsPath: WORKFLOWS_PATH,
      activities: { ...createActivities(backends), ...createLeaseActivities({ client: env.client }) },
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running;
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
      // No lateness days: day 2 then reads no bronze of day 3, so only day 3 is bad.
      args: [{ bucket: lake, startDate: days[0], endDate: days[2], chunkSizeDays: 3, allowedLatenessDays: 0 }],
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
