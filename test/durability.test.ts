/**
 * Durability against process failures, on real servers: a worker killed with SIGKILL in the
 * middle of a chunk, and the Temporal dev server restarted during a backfill.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import { backfillWorkflow, progressQuery, SEARCH_ATTRIBUTES } from '../src/workflows';
import { fakeActivities } from './support/fake-activities';
import { goldRows, makeSampleLake, openLakeStore } from './support/lake';
import { readBronzeEvents, referenceFeatures } from './support/reference-features';
import { createDevServerEnv, devServerDynamicConfigArgs, ROOT, VENV_BIN, WORKFLOWS_PATH } from './support/temporal';
import { sleep, until } from './support/until';

describe('a worker killed with SIGKILL mid-chunk (dev server, real spark-submit)', function () {
  let env: TestWorkflowEnvironment;
  let lake: string;
  let state: string;
  const workers: ChildProcess[] = [];
  // One chunk done before the kill, the killed one, and one the new worker starts fresh: each a real Spark run.
  const days = ['2025-10-01', '2025-10-02', '2025-10-03'];

  before(async () => {
    lake = makeSampleLake({ start: days[0], days: days.length, eventsPerDay: 300, cards: 30, seed: 11 });
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-kill-'));
    env = await createDevServerEnv();
  });
  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await env?.teardown();
    fs.rmSync(lake, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  });

  /** The real worker entry point, as its own process. */
  function startWorker(): ChildProcess {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'src', 'worker.ts')],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: env.address,
          BACKFILL_TASK_QUEUE: 'kill-test',
          BACKFILL_STATE_DIR: state,
        },
        stdio: ['ignore', fs.openSync(path.join(state, `worker-${workers.length}.log`), 'w'), 'inherit'],
      },
    );
    workers.push(child);
    return child;
  }

  it('completes after a new worker starts, every partition and record exactly once, finished chunks not rerun', async () => {
    const first = startWorker();
    const handle = await env.client.workflow.start(backfillWorkflow, {
      args: [
        // onlineHorizonDays 0: every day through the API, whose SQLite tables the test reads.
        {
          bucket: lake,
          startDate: days[0],
          endDate: days[2],
          chunkSizeDays: 1,
          maxConcurrentChunks: 1,
          onlineHorizonDays: 0,
        },
      ],
      taskQueue: 'kill-test',
      workflowId: 'kill-test',
    });
    const commits = path.join(lake, '_ledger', 'gold', 'card_features', 'feature_version=v1');
    // Wait until one chunk is done and the next one's Spark job is running.
    const done = await until(
      async () => {
        const p = await handle.query(progressQuery);
        const finished = p.chunks.filter((c) => c.status === 'succeeded').map((c) => c.chunk.id);
        const runningChunk = p.chunks.find((c) => c.status === 'running');
        const sparkLogs = fs.existsSync(path.join(state, 'spark-logs'))
          ? fs.readdirSync(path.join(state, 'spark-logs'))
          : [];
        const sparkStarted = runningChunk && sparkLogs.some((f) => f.includes(runningChunk.chunk.id));
        return finished.length >= 1 && sparkStarted ? finished : undefined;
      },
      'a finished chunk and a running Spark job',
      { everyMs: 250 },
    );
    const commitFile = (id: string) => path.join(commits, `dt=${id.split('_')[0]}.json`);
    const mtimes = Object.fromEntries(done.map((id) => [id, fs.statSync(commitFile(id)).mtimeMs]));
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    startWorker();
    const report = await handle.result();
    assert.equal(report.status, 'succeeded', JSON.stringify(report.chunks.map((c) => c.error)));
    for (const id of done) {
      assert.equal(fs.statSync(commitFile(id)).mtimeMs, mtimes[id], `${id} did not run again`);
      assert.equal(report.chunks.find((c) => c.chunk.id === id)?.attempts, 1);
    }

    const expected = referenceFeatures(readBronzeEvents(lake), ['APPROVED', 'DECLINED']).filter((r) =>
      days.includes(r.dt),
    );
    for (const dt of days) {
      const rows = await goldRows(lake, 'v1', dt);
      assert.equal(rows.length, expected.filter((r) => r.dt === dt).length, `gold rows of ${dt}`);
      assert.equal(new Set(rows.map((r) => r.event_id)).size, rows.length, `no duplicate in ${dt}`);
    }
    const store = openLakeStore(lake);
    try {
      const offline = store.offlineRecords('rt_card_features_v1');
      assert.equal(offline.length, expected.length, 'every record once in the offline store');
      assert.equal(new Set(offline.map((r) => r.event_id)).size, expected.length);
    } finally {
      store.close();
    }
  });

  it('killed mid-ingest: the new worker resumes from the ledger, re-sending at most the batches in flight, and the report says how many', async () => {
    const big = makeSampleLake({ start: days[0], days: 2, eventsPerDay: 12_000, cards: 200, seed: 23 });
    // Only the worker killed below may serve the task queue: the test above left one running.
    for (const w of workers.filter((x) => x.exitCode === null && x.signalCode === null)) {
      w.kill('SIGKILL');
      await new Promise((r) => w.once('exit', r));
    }
    try {
      const first = startWorker();
      const handle = await env.client.workflow.start(backfillWorkflow, {
        args: [
          {
            bucket: big,
            startDate: days[0],
            endDate: days[1],
            chunkSizeDays: 2,
            maxConcurrentChunks: 1,
            onlineHorizonDays: 0,
          },
        ],
        taskQueue: 'kill-test',
        workflowId: 'kill-mid-ingest',
      });
      const publications = path.join(big, '_ledger', 'publication', 'rt_card_features_v1', 'feature_version=v1');
      const commitFile = path.join(big, '_ledger', 'gold', 'card_features', 'feature_version=v1', `dt=${days[0]}.json`);
      // Kill as soon as the ledger shows records acknowledged while the attempt is still sending.
      const seen = await until(
        async () => {
          for (const f of fs.existsSync(publications) ? fs.readdirSync(publications) : []) {
            if (!f.endsWith('.json')) continue;
            const pub = JSON.parse(fs.readFileSync(path.join(publications, f), 'utf8'));
            if (pub.sending && pub.status === 'in_progress' && pub.records_written >= 500) return pub;
          }
          return undefined;
        },
        'ingestion under way',
        { timeoutMs: 600_000, everyMs: 5 },
      );
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      const committed = fs.statSync(commitFile).mtimeMs;

      startWorker();
      const report = await handle.result();
      assert.equal(
        report.status,
        'succeeded',
        JSON.stringify(report.chunks.map((c) => [c.error, c.validationProblems])),
      );
      assert.ok(seen.records_written < seen.records, 'killed mid-day');
      assert.equal(fs.statSync(commitFile).mtimeMs, committed, 'Spark did not run again');

      const gold = [...(await goldRows(big, 'v1', days[0])), ...(await goldRows(big, 'v1', days[1]))].map((r) =>
        String(r.event_id),
      );
      const store = openLakeStore(big);
      try {
        const offline = store.offlineRecords('rt_card_features_v1').map((r) => r.event_id);
        const extra = offline.length - gold.length;
        console.log(
          `    killed at ${seen.records_written}/${seen.records} records of ${seen.dt}; sent twice ${extra}, reported ${report.totals.possibleDuplicates}`,
        );
        assert.deepEqual(new Set(offline), new Set(gold), 'every gold row reached the store');
        const maxInFlight = 32; // DEFAULT_INGEST_OPTIONS.maxInFlight, batches of 25
        assert.ok(extra <= maxInFlight * 25, `records sent twice: ${extra}`);
        assert.ok(
          (report.totals.possibleDuplicates ?? 0) >= extra,
          `report says ${report.totals.possibleDuplicates}, found ${extra}`,
        );
        assert.ok((report.totals.possibleDuplicates ?? 0) <= maxInFlight * 25);
        // The kill found the attempt sending: the report must say something may be doubled.
        assert.ok((report.totals.possibleDuplicates ?? 0) > 0, 'the crash is reported');
      } finally {
        store.close();
      }
    } finally {
      fs.rmSync(big, { recursive: true, force: true });
    }
  });
});

describe('the Temporal dev server restarted during a backfill (file-backed)', function () {
  let dir: string;
  let server: ChildProcess | undefined;
  let port: number;

  const freePort = () =>
    new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });

  async function startServer(): Promise<void> {
    server = spawn(
      path.join(VENV_BIN, 'temporal'),
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--db-filename',
        path.join(dir, 'temporal.db'),
        '--log-level',
        'error',
        ...devServerDynamicConfigArgs(),
        ...Object.values(SEARCH_ATTRIBUTES).flatMap((k) => [
          '--search-attribute',
          `${k.name}=${k.type === 'INT' ? 'Int' : 'Keyword'}`,
        ]),
      ],
      { stdio: 'ignore' },
    );
    await until(
      async () => {
        const c = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 });
        await c.workflowService.getSystemInfo({});
        await c.close();
        return true;
      },
      'the dev server',
      { timeoutMs: 60_000, everyMs: 250 },
    );
  }

  async function stopServer(): Promise<void> {
    const s = server;
    if (!s || s.exitCode !== null) return;
    s.kill('SIGTERM');
    await new Promise((r) => s.once('exit', r));
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-restart-'));
    port = await freePort();
    await startServer();
  });
  after(async () => {
    await stopServer();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the backfill completes after the server comes back', async () => {
    const address = `127.0.0.1:${port}`;
    const fake = fakeActivities({ stepMs: 300 });
    const nativeConnection = await NativeConnection.connect({ address });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue: 'restart-test',
      workflowsPath: WORKFLOWS_PATH,
      activities: fake.activities,
    });
    const running = worker.run();
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const handle = await client.workflow.start(backfillWorkflow, {
      args: [
        {
          bucket: '/tmp/lake',
          startDate: '2025-10-01',
          endDate: '2025-10-08',
          chunkSizeDays: 1,
          maxConcurrentChunks: 2,
        },
      ],
      taskQueue: 'restart-test',
      workflowId: 'restart-test',
    });
    await until(async () => (await handle.query(progressQuery)).totals.succeeded >= 2 || undefined, 'two chunks done', {
      timeoutMs: 60_000,
      everyMs: 250,
    });

    await stopServer();
    await sleep(2000); // the outage under test: the worker's polls and the client's calls fail meanwhile
    await startServer();

    const report = await until(() => handle.result(), 'the result after the restart', {
      timeoutMs: 180_000,
      everyMs: 250,
    });
    assert.equal(report.status, 'succeeded');
    assert.equal(report.totals.succeeded, 8);
    const sparkRuns = fake.calls.filter((c) => c.step === 'spark').map((c) => c.chunkId);
    assert.equal(new Set(sparkRuns).size, 8, 'every chunk ran');
    worker.shutdown();
    await running;
    await connection.close();
    await nativeConnection.close();
  });
});
