/** The local runner: its failure detail (the job's own words), and how it knows its runs again. */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JobHandle, JobStatus } from '../src/activities/backends';
import { LocalSparkRunner } from '../src/activities/local/spark-submit';
import { validateInput } from '../src/common/input';
import { until } from './support/until';

/** A stand-in spark-submit executable that prints what a failed run prints, then exits 2. */
function fakeSparkSubmit(dir: string, output: string): string {
  const script = path.join(dir, 'spark-submit');
  fs.writeFileSync(script, `#!/bin/sh\ncat <<'OUT'\n${output}\nOUT\nexit 2\n`, { mode: 0o755 });
  return script;
}

async function finalStatus(runner: LocalSparkRunner, id: string): Promise<JobStatus> {
  for (;;) {
    const status = await runner.status({ backend: 'local', id });
    if (status.state !== 'running') return status;
    await new Promise((r) => setTimeout(r, 20)); // polling the child's exit, as the activity does
  }
}

describe('local spark-submit failure detail', () => {
  it("reports the job's named error even when Java lines follow it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-submit-'));
    const named =
      'bronze file file:///lake/dt=2025-10-02/part-0.json.gz (dt=2025-10-02) cannot be read: the gzip data ends early';
    const runner = new LocalSparkRunner({
      sparkSubmit: fakeSparkSubmit(
        dir,
        [
          'ERROR Executor: Exception in task 0.0 in stage 0.0 (TID 0)',
          'java.io.EOFException: Unexpected end of input stream',
          `card_features error: ${named}`,
          'WARN ShutdownHookManager: ShutdownHook failed: java.lang.IllegalStateException: Shutdown in progress',
        ].join('\n'),
      ),
      python: process.execPath,
      jobDir: dir,
      logDir: path.join(dir, 'logs'),
    });
    const handle = await runner.submit({
      request: validateInput({ bucket: dir, startDate: '2025-10-02', endDate: '2025-10-02' }),
      chunk: { index: 0, id: 'c', startDate: '2025-10-02', endDate: '2025-10-02', days: 1 },
      args: [],
      runName: 'run-1',
    });
    const status = await finalStatus(runner, handle.id);
    assert.equal(status.state, 'failed');
    assert.match(
      status.detail ?? '',
      new RegExp(`^spark-submit exited with code 2: ${named.replace(/[.()]/g, '\\$&')} \\(log: `),
    );
  });
});

/** A stand-in spark-submit that keeps running (its command line keeps the job's arguments, as spark-submit's does). */
function longSparkSubmit(dir: string): string {
  const script = path.join(dir, 'spark-submit');
  fs.writeFileSync(script, '#!/bin/sh\nsleep 600\n', { mode: 0o755 });
  return script;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('local spark-submit: a run is its pid, start time and command line', () => {
  const started: ChildProcess[] = [];
  afterEach(() => {
    for (const child of started.splice(0)) child.kill('SIGKILL');
  });

  function runner(dir: string, sparkSubmit = path.join(dir, 'no-spark-submit')): LocalSparkRunner {
    return new LocalSparkRunner({ sparkSubmit, python: process.execPath, jobDir: dir, logDir: path.join(dir, 'logs') });
  }

  /** A process that looks like a Spark run by name (argv0), as a reused pid would. */
  async function impostor(): Promise<ChildProcess> {
    const child = spawn('sleep', ['600'], { argv0: 'spark-submit', stdio: 'ignore' });
    started.push(child);
    await new Promise((resolve) => child.once('spawn', resolve));
    return child;
  }

  it('a handle whose pid is now another process (other start time, or other command) is neither followed nor killed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-reused-'));
    const other = await impostor();
    const pid = other.pid!;
    const startTime = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[22 - 3];
    const forged: JobHandle[] = [
      { backend: 'local', id: String(pid), startTime: String(Number(startTime) - 1), command: ['600'] } as JobHandle,
      {
        backend: 'local',
        id: String(pid),
        startTime,
        command: [path.join(dir, 'backfill_features.py'), '--start-date', '2025-10-01'],
      } as JobHandle,
    ];
    for (const handle of forged) {
      const fresh = runner(dir); // a worker after a crash: the run is not its own
      assert.equal(await fresh.reattach(handle), undefined, 'not followed');
      assert.equal((await fresh.cancel(handle)).state, 'cancelled');
      assert.equal(alive(pid), true, `process ${pid} must still run after ${JSON.stringify(handle)}`);
    }
    // All three matching: it is the run, killed before a rerun.
    const exited = new Promise((resolve) => other.once('exit', resolve));
    const same = { backend: 'local', id: String(pid), startTime, command: ['600'] } as JobHandle;
    assert.equal(await runner(dir).reattach(same), undefined);
    await exited;
  });

  it("lists a holder's runs still going to any runner sharing the log folder, and forgets ended ones", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-active-'));
    const first = runner(dir, longSparkSubmit(dir));
    const handle = await first.submit({
      request: validateInput({ bucket: dir, startDate: '2025-10-02', endDate: '2025-10-02' }),
      chunk: { index: 0, id: 'c', startDate: '2025-10-02', endDate: '2025-10-02', days: 1 },
      args: ['--start-date', '2025-10-02'],
      runName: 'backfill-a/chunk-c',
    });
    const other = runner(dir); // another worker, or this one restarted
    assert.deepEqual(
      (await other.activeRuns({ holder: 'backfill-a' })).map((r) => r.id),
      [handle.id],
    );
    assert.deepEqual(await other.activeRuns({ holder: 'backfill-' }), [], 'names match up to the chunk separator');
    assert.equal((await first.cancel(handle)).state, 'cancelled');
    assert.deepEqual(await other.activeRuns({ holder: 'backfill-a' }), []);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'logs', 'runs')), [], 'the record went with the run');
  });

  it('a cancelled run ends cancelled, never failed: its shell cannot exit on its own between the kills', async () => {
    // Killing the tree children first let spark-submit's shell see its child die and exit 137 before its
    // own SIGKILL, under load: the run then read "failed". Several runs make that window likely.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-cancel-'));
    const spark = runner(dir, longSparkSubmit(dir));
    const handles: JobHandle[] = [];
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      handles.push(
        await spark.submit({
          request: validateInput({ bucket: dir, startDate: '2025-10-02', endDate: '2025-10-02' }),
          chunk: { index: 0, id, startDate: '2025-10-02', endDate: '2025-10-02', days: 1 },
          args: ['--start-date', '2025-10-02'],
          runName: `backfill-a/chunk-${id}`,
        }),
      );
    }
    // Each shell has forked its sleep: the tree has two levels, as spark-submit's has.
    const childrenOf = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    await until(() => handles.every((h) => childrenOf(Number(h.id)) !== ''), 'every shell to start its sleep');
    try {
      const states = await Promise.all(handles.map(async (h) => (await spark.cancel(h)).state));
      assert.deepEqual(
        states,
        handles.map(() => 'cancelled'),
      );
    } finally {
      for (const h of handles) await spark.cancel(h);
    }
  });

  it("a dead worker's run of the chunk that its heartbeat never named is stopped before the rerun starts", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-orphan-'));
    const spec = {
      request: validateInput({ bucket: dir, startDate: '2025-10-02', endDate: '2025-10-02' }),
      chunk: { index: 0, id: 'c', startDate: '2025-10-02', endDate: '2025-10-02', days: 1 },
      args: ['--start-date', '2025-10-02'],
      runName: 'backfill-a/chunk-c',
    };
    const dead = runner(dir, longSparkSubmit(dir)); // killed before any heartbeat: no handle reaches the retry
    const orphan = await dead.submit(spec);
    const other = await dead.submit({ ...spec, runName: 'backfill-a/chunk-d' }); // another chunk's run
    const rerun = runner(dir, longSparkSubmit(dir));
    const handle = await rerun.submit(spec);
    // Killed: a zombie, or gone once this test process (its parent, as a dead worker's would not be) reaped it.
    const stopped = (pid: string) => {
      try {
        return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[0] === 'Z';
      } catch {
        return true; // reaped
      }
    };
    assert.equal(stopped(orphan.id), true, 'the orphan no longer writes beside the rerun');
    assert.equal(alive(Number(other.id)), true, "another chunk's run is left alone");
    assert.deepEqual(
      (await rerun.activeRuns({ holder: 'backfill-a' })).map((r) => r.id).sort(),
      [handle.id, other.id].sort(),
    );
    await rerun.cancel(handle);
    await dead.cancel(other);
  });
});
