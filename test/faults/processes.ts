/**
 * Process control for the harness: the Temporal dev server (file-backed, so it can be restarted),
 * worker processes each in its own process group (killed whole with kill -9), the CLI, and a look
 * for processes still working on a lake.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../../src/common/search-attributes';
import { devServerDynamicConfigArgs, ROOT, VENV_BIN } from '../support/temporal';
import { sleep, until } from '../support/until';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Waits for a process to exit, at most `ms`; true if it did. */
export async function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return Promise.race([new Promise<boolean>((r) => child.once('exit', () => r(true))), sleep(ms).then(() => false)]);
}

/** Every process group the harness started (servers, workers), for killEverything(). */
const groups = new Set<number>();

function track(child: ChildProcess): ChildProcess {
  if (child.pid) groups.add(child.pid);
  child.once('exit', () => child.pid && groups.delete(child.pid));
  return child;
}

/** kill -9 of every process group the harness started: for a harness stopped by a signal. */
export function killEverything(): void {
  for (const pid of groups) killGroup(pid, 'SIGKILL');
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

const spawnTracked = (...args: Parameters<typeof spawn>): ChildProcess => track(spawn(...args));

/** A dev server on a db file of the state directory; restart() keeps its state. */
export class DevServer {
  private child?: ChildProcess;
  readonly address: string;

  constructor(
    private readonly port: number,
    private readonly dir: string,
  ) {
    this.address = `127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const attrs = Object.values(SEARCH_ATTRIBUTES).flatMap((k) => [
      '--search-attribute',
      `${k.name}=${k.type === 'INT' ? 'Int' : 'Keyword'}`,
    ]);
    const log = fs.openSync(path.join(this.dir, 'temporal.log'), 'a');
    this.child = spawnTracked(
      path.join(VENV_BIN, 'temporal'),
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(this.port),
        '--headless',
        '--log-level',
        'warn',
      ].concat(['--db-filename', path.join(this.dir, 'temporal.db'), ...devServerDynamicConfigArgs(), ...attrs]),
      { detached: true, stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    await until(() => this.healthy(), `the dev server on ${this.address}`, { timeoutMs: 120_000, everyMs: 250 });
  }

  private healthy(): Promise<boolean> {
    return new Promise((resolve) =>
      execFile(path.join(VENV_BIN, 'temporal'), ['operator', 'cluster', 'health', '--address', this.address], (err) =>
        resolve(!err),
      ),
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    killGroup(child.pid, 'SIGTERM');
    if (!(await exited(child, 20_000))) {
      killGroup(child.pid, 'SIGKILL');
      await exited(child, 10_000);
    }
    this.child = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export interface WorkerEnv {
  address: string;
  taskQueue: string;
  stateDir: string;
}

/** A worker that exits by itself this soon after its start did not get going. */
const QUICK_EXIT_MS = 15_000;
/**
 * Quick exits in a row taken for a crash loop: a dev-server restart makes each starting worker (at
 * most a schedule's three) exit once, a broken build makes them exit every time.
 */
const CRASH_LOOP_EXITS = 5;

/** Worker processes (the real entry point, lib/src/worker.js), each the leader of its own process group. */
export class Workers {
  private readonly all: ChildProcess[] = [];
  /** Workers the harness stopped on purpose; any other exit is restarted, as a supervisor would. */
  private readonly stopped = new Set<ChildProcess>();
  private stopping = false;
  /** Workers that exited on their own (e.g. the server was down at their start-up), restarted. */
  readonly restarts: string[] = [];
  /** Workers in a row that exited by themselves soon after their start. */
  private quickExits = 0;
  private giveUp: (err: Error) => void = () => undefined;
  /**
   * Rejects when workers keep exiting at start-up (a broken build, a bad setting): the schedule
   * stops at once and says why, instead of restarting them until its deadline. No worker starts after.
   */
  readonly crashLoop = new Promise<never>((_, reject) => (this.giveUp = reject));
  crashed = false;

  constructor(private readonly env: WorkerEnv) {
    this.crashLoop.catch(() => undefined); // observed by the runner's race; never unhandled
  }

  start(): ChildProcess {
    if (this.crashed) throw new Error('no worker starts after a crash loop');
    const log = fs.openSync(path.join(this.env.stateDir, `worker-${this.all.length}.log`), 'w');
    const child = spawnTracked(process.execPath, [path.join(ROOT, 'lib', 'src', 'worker.js')], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: this.env.address,
        BACKFILL_BACKEND: 'local',
        BACKFILL_TASK_QUEUE: this.env.taskQueue,
        BACKFILL_STATE_DIR: this.env.stateDir,
        // A deploy's drain, short so a schedule stays short (the default is 20 s).
        BACKFILL_SHUTDOWN_GRACE_SECONDS: '5',
      },
    });
    fs.closeSync(log);
    this.all.push(child);
    const startedAt = Date.now();
    child.once('exit', (code, signal) => this.supervise(child, { code, signal, startedAt }));
    return child;
  }

  private supervise(
    child: ChildProcess,
    exit: { code: number | null; signal: string | null; startedAt: number },
  ): void {
    if (this.stopping || this.stopped.has(child)) return;
    const how = exit.signal ?? `code ${exit.code}`;
    this.quickExits = Date.now() - exit.startedAt < QUICK_EXIT_MS ? this.quickExits + 1 : 0;
    if (this.quickExits >= CRASH_LOOP_EXITS) {
      const log = path.join(this.env.stateDir, `worker-${this.all.indexOf(child)}.log`);
      const lines = fs.readFileSync(log, 'utf8').split('\n');
      const error = lines.find((l) => /Error/.test(l)) ?? lines[0];
      this.crashed = true;
      this.giveUp(
        new Error(`${CRASH_LOOP_EXITS} workers in a row exited by themselves at start-up (${how}): ${error} (${log})`),
      );
      return;
    }
    this.restarts.push(`worker ${child.pid} exited by itself (${how}), restarted`);
    setTimeout(() => !this.stopping && this.start(), 2000);
  }

  alive(): ChildProcess[] {
    return this.all.filter((c) => c.exitCode === null && c.signalCode === null);
  }

  /** kill -9 of the worker's whole process group (its spark-submit and JVM included). */
  async kill9(child: ChildProcess): Promise<void> {
    this.stopped.add(child);
    killGroup(child.pid, 'SIGKILL');
    await exited(child, 10_000);
  }

  /** A deploy: SIGTERM to the worker alone; it drains, then exits. */
  async sigterm(child: ChildProcess): Promise<void> {
    this.stopped.add(child);
    child.kill('SIGTERM');
    if (!(await exited(child, 60_000))) await this.kill9(child);
  }

  /** The worker whose process group holds `pid` (e.g. a spark-submit), if one of ours. */
  ownerOf(pid: number): ChildProcess | undefined {
    const pgid = processGroup(pid);
    return this.alive().find((c) => c.pid === pgid);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const c of this.alive()) await this.sigterm(c);
  }
}

function processGroup(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/** Processes whose command line names the lake (spark-submit, its JVM, Python workers), with their command lines. */
export function processesOnLake(lake: string): { pid: number; cmd: string }[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-fa', lake], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ pid: Number(line.split(' ')[0]), cmd: line.slice(line.indexOf(' ') + 1) }))
    .filter((p) => p.pid !== process.pid && !/pgrep/.test(p.cmd));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The `backfill` CLI (bin/backfill.js, the compiled lib/), against the harness's server. */
export function cli(args: string[], address: string, stateDir: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'backfill.js'), ...args],
      { cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS: address, BACKFILL_STATE_DIR: stateDir }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
