/**
 * The worker's Prometheus endpoint (BACKFILL_METRICS_PORT), scraped after real backfills on a dev
 * server: the SDK's own metrics and ours, with the report's numbers, our labels and no chunk ids;
 * and its log, one JSON line per chunk step start and end.
 * Workers run as their own processes: the metrics runtime is per process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { validateInput } from '../src/common/input';
import type { BackfillReport } from '../src/common/results';
import { backfillWorkflowId } from '../src/common/workflow-id';
import { metricsPort } from '../src/runtime';
import { backfillWorkflow } from '../src/workflows';
import { pauseSignal } from '../src/workflows/api';
import type { FakeOptions } from './support/fake-activities';
import { makeSampleLake } from './support/lake';
import { createDevServerEnv, ROOT } from './support/temporal';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The value of a sample, summed over the series whose labels include `labels`; undefined when none. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total;
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** Scrapes until `ok` holds (the exporter shows what the workflows recorded once their tasks complete). */
async function scrapeUntil(port: number, ok: (text: string) => boolean, what: string): Promise<string> {
  const until = Date.now() + 30_000;
  let text = '';
  while (Date.now() < until) {
    text = await scrape(port).catch(() => '');
    if (ok(text)) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `metrics never showed ${what}:\n${text
      .split('\n')
      .filter((l) => l.startsWith('backfill_'))
      .join('\n')}`,
  );
}

/** Starts a worker (or CLI) process, its output in `log`. */
function startProcess(script: string, env: NodeJS.ProcessEnv, log: string, args: string[] = []): ChildProcess {
  const out = fs.openSync(log, 'w');
  try {
    return spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      // One descriptor for both: two would each write at their own offset, over each other.
      stdio: ['ignore', out, out],
    });
  } finally {
    fs.closeSync(out);
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const FG = { feature_group: 'rt_card_features_v1', feature_version: 'v1' };

describe('worker metrics on BACKFILL_METRICS_PORT (dev server)', function () {
  let env: TestWorkflowEnvironment;
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-metrics-'));
    env = await createDevServerEnv();
  });
  after(async () => {
    for (const c of children) await stop(c);
    await env?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a BACKFILL_METRICS_PORT that is not a port', () => {
    assert.equal(metricsPort({}), undefined);
    assert.equal(metricsPort({ BACKFILL_METRICS_PORT: '9464' }), 9464);
    assert.throws(
      () => metricsPort({ BACKFILL_METRICS_PORT: '94x' }),
      /BACKFILL_METRICS_PORT must be a port number from 1 to 65535, got "94x"/,
    );
    assert.throws(() => metricsPort({ BACKFILL_METRICS_PORT: '70000' }), /got "70000"/);
  });

  it('a port in use: the CLI worker runs without metrics (with a warning), a standalone worker fails', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const { port } = taken.address() as net.AddressInfo;
    // One runtime per process: each case in a process of its own.
    const install = (optional: boolean) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const script =
          `const r = require('./src/runtime'); ` +
          `const m = r.installWorkerRuntime({ BACKFILL_METRICS_PORT: '${port}' }, () => {}, ${optional}); ` +
          `console.log('metrics=' + m);`;
        const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { cwd: ROOT });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    try {
      const optional = await install(true);
      assert.equal(optional.code, 0, optional.out);
      assert.match(optional.out, /metrics=undefined/);
      assert.match(optional.out, new RegExp(`no metrics endpoint on 0.0.0.0:${port}`));
      const required = await install(false);
      assert.notEqual(required.code, 0, required.out);
      assert.match(required.out, /in use/i);
    } finally {
      taken.close();
    }
  });

  it('counts chunks, rows, records, dead letters, throttling and steps as the report does', async () => {
    const port = await freePort();
    const taskQueue = 'metrics-fake';
    const options: FakeOptions = {
      rowsPerDay: 100,
      failStep: { step: 'spark', chunkId: '2025-10-03_2025-10-04', message: 'executor lost' },
      ingest: { failedRecords: 5, throttled: 3, retries: 2 },
    };
    const child = startProcess(
      path.join(ROOT, 'test', 'support', 'metrics-worker.ts'),
      {
        TEMPORAL_ADDRESS: env.address,
        TASK_QUEUE: taskQueue,
        BACKFILL_METRICS_PORT: String(port),
        FAKE_OPTIONS: JSON.stringify(options),
      },
      path.join(dir, 'fake-worker.log'),
    );
    children.push(child);
    const report: BackfillReport = await env.client.workflow.execute(backfillWorkflow, {
      args: [
        {
          bucket: '/tmp/lake',
          startDate: '2025-10-01',
          endDate: '2025-10-06',
          chunkSizeDays: 2,
          featureVersion: 'v1',
          maxConcurrentChunks: 1,
        },
      ],
      taskQueue,
      workflowId: 'metrics-fake',
    });
    assert.equal(report.status, 'partially_failed');
    assert.deepEqual(
      [report.totals.rowsWritten, report.totals.recordsIngested, report.totals.failedRecords],
      [400, 390, 10],
    );

    const text = await scrapeUntil(
      port,
      (t) => sampleValue(t, 'backfill_backfills_finished_total', FG) === 1,
      'the finished backfill',
    );
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(text, name, { ...FG, ...labels });
    assert.equal(v('backfill_backfills_finished_total', { status: 'partially_failed' }), 1);
    assert.equal(v('backfill_chunks_finished_total', { status: 'succeeded' }), 2);
    assert.equal(v('backfill_chunks_finished_total', { status: 'failed' }), 1);
    assert.equal(v('backfill_rows_written_total'), report.totals.rowsWritten);
    assert.equal(v('backfill_records_ingested_total'), report.totals.recordsIngested);
    assert.equal(v('backfill_records_dead_lettered_total'), report.totals.failedRecords);
    assert.equal(v('backfill_feature_store_throttled_total'), 6);
    assert.equal(v('backfill_feature_store_retries_total'), 4);
    assert.equal(v('backfill_chunk_step_duration_seconds_count', { step: 'spark', outcome: 'ok' }), 2);
    assert.equal(v('backfill_chunk_step_duration_seconds_count', { step: 'spark', outcome: 'failed' }), 1);
    assert.equal(v('backfill_chunk_step_duration_seconds_count', { step: 'validate', outcome: 'ok' }), 2);
    // Buckets sized for Spark jobs and ingests (minutes to hours), not the SDK's default (up to 10 s).
    assert.equal(v('backfill_chunk_step_duration_seconds_bucket', { step: 'spark', outcome: 'ok', le: '3600' }), 2);
    // The SDK's own metrics are there too; no chunk id (nor any date) is a label value.
    assert.ok(
      (sampleValue(text, 'temporal_workflow_completed_total') ??
        sampleValue(text, 'temporal_workflow_completed') ??
        0) >= 3,
      'SDK metrics',
    );
    const ours = text.split('\n').filter((l) => l.startsWith('backfill_'));
    assert.ok(ours.length > 0);
    assert.deepEqual(
      ours.filter((l) => /2025-10|chunk-|chunk_id/.test(l)),
      [],
    );

    // One JSON line per chunk step start and end, with the workflow id, chunk, step, outcome and duration.
    const lines = fs
      .readFileSync(path.join(dir, 'fake-worker.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const failedSpark = lines.filter(
      (l) => l.message === 'chunk step ended' && l.chunk === '2025-10-03_2025-10-04' && l.step === 'spark',
    );
    assert.equal(failedSpark.length, 1, JSON.stringify(lines.slice(0, 5)));
    assert.equal(failedSpark[0].outcome, 'failed');
    assert.equal(failedSpark[0].workflowId, 'metrics-fake/chunk-2025-10-03_2025-10-04');
    assert.equal(typeof failedSpark[0].durationSeconds, 'number');
    assert.equal(failedSpark[0].level, 'INFO');
    const ended = lines.filter((l) => l.message === 'chunk step ended');
    assert.equal(ended.length, 1 + 2 * 4, 'spark failed once; two chunks ran four steps each');
    assert.equal(lines.filter((l) => l.message === 'chunk step started').length, ended.length);
  });

  it('the real worker entry point serves them: a dry run on the local backend', async () => {
    const port = await freePort();
    const lake = path.join(dir, 'lake');
    fs.mkdirSync(lake);
    const child = startProcess(
      path.join(ROOT, 'src', 'worker.ts'),
      {
        TEMPORAL_ADDRESS: env.address,
        BACKFILL_TASK_QUEUE: 'metrics-real',
        BACKFILL_STATE_DIR: path.join(dir, 'state'),
        BACKFILL_METRICS_PORT: String(port),
      },
      path.join(dir, 'real-worker.log'),
    );
    children.push(child);
    const report: BackfillReport = await env.client.workflow.execute(backfillWorkflow, {
      args: [{ bucket: lake, startDate: '2025-10-01', endDate: '2025-10-02', featureVersion: 'v2', dryRun: true }],
      taskQueue: 'metrics-real',
      workflowId: 'metrics-real-dry-run',
    });
    assert.equal(report.status, 'dry_run');
    await scrapeDryRunMetrics(port);
    // Its log: the start-up line, then the SDK's entries as one JSON line each.
    const log = fs.readFileSync(path.join(dir, 'real-worker.log'), 'utf8').split('\n').filter(Boolean);
    assert.ok(
      log.some((l) => l.startsWith('worker: backend local') && l.includes(`metrics on http://0.0.0.0:${port}/metrics`)),
      log.join('\n'),
    );
    assertJsonLogLines(log.filter((l) => !l.startsWith('worker: ')));
  });

  it('backfill run --local serves them from its in-process worker, which logs JSON lines to worker.log', async () => {
    const port = await freePort();
    const lake = makeSampleLake({ start: '2025-10-01', days: 2, eventsPerDay: 20, cards: 5 });
    const state = path.join(dir, 'cli-state');
    const taskQueue = 'metrics-cli';
    // The backfill the CLI follows, started and paused before the CLI's worker is up: the CLI then
    // hosts its worker until the test cancels the backfill, and no chunk (no Spark) runs.
    const input = { bucket: lake, startDate: '2025-10-01', endDate: '2025-10-02' };
    const handle = await env.client.workflow.start(backfillWorkflow, {
      args: [input],
      taskQueue,
      workflowId: backfillWorkflowId(validateInput(input)),
    });
    await handle.signal(pauseSignal);
    const cliLog = path.join(dir, 'cli.log');
    const cli = startProcess(
      path.join(ROOT, 'src', 'client', 'cli.ts'),
      {
        TEMPORAL_ADDRESS: env.address,
        BACKFILL_TASK_QUEUE: taskQueue,
        BACKFILL_STATE_DIR: state,
        BACKFILL_METRICS_PORT: String(port),
      },
      cliLog,
      ['run', '--local', '--bucket', lake, '--start-date', '2025-10-01', '--end-date', '2025-10-02'],
    );
    children.push(cli);
    const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
    try {
      // The CLI's worker polls the task queue: it runs this dry run as the standalone worker did above.
      const report: BackfillReport = await env.client.workflow.execute(backfillWorkflow, {
        args: [{ bucket: lake, startDate: '2025-10-01', endDate: '2025-10-02', featureVersion: 'v2', dryRun: true }],
        taskQueue,
        workflowId: 'metrics-cli-dry-run',
      });
      assert.equal(report.status, 'dry_run');
      await scrapeDryRunMetrics(port);
    } finally {
      await handle.cancel();
    }
    assert.equal(await exited, 1, fs.readFileSync(cliLog, 'utf8'));
    const terminal = fs.readFileSync(cliLog, 'utf8');
    assert.match(terminal, /already running .* with the same input: following it/);
    assert.match(terminal, /: CANCELLED/);
    // The terminal keeps progress and the report; the worker's entries go to the state directory.
    assert.equal(terminal.split('\n').filter((l) => l.startsWith('{')).length, 0, terminal);
    const log = fs.readFileSync(path.join(state, 'worker.log'), 'utf8').split('\n').filter(Boolean);
    assert.ok(
      log.some((l) => l.startsWith('worker: backend local') && l.includes(`metrics on http://0.0.0.0:${port}/metrics`)),
      log.join('\n'),
    );
    assertJsonLogLines(log.filter((l) => !l.startsWith('worker: ')));
    fs.rmSync(lake, { recursive: true, force: true });
  });
});

/** What a worker that ran one dry run (feature version v2) serves: our counter and the SDK's metrics. */
async function scrapeDryRunMetrics(port: number): Promise<void> {
  const labels = { feature_group: 'rt_card_features_v2', feature_version: 'v2', status: 'dry_run' };
  const text = await scrapeUntil(
    port,
    (t) => sampleValue(t, 'backfill_backfills_finished_total', labels) === 1,
    'the dry run',
  );
  assert.ok(
    text.split('\n').some((l) => l.startsWith('temporal_')),
    'the SDK runtime metrics',
  );
}

/** The SDK's entries, one JSON line each with a level. */
function assertJsonLogLines(entries: string[]): void {
  assert.ok(entries.length > 0);
  for (const l of entries) assert.ok(typeof (JSON.parse(l) as { level?: unknown }).level === 'string', l);
}
