/**
 * Runs the Spark job with `spark-submit` in local mode, one child process per chunk.
 * The job is idempotent per chunk, so a run orphaned by a crashed worker is killed and the
 * chunk is run again rather than followed. A run is known by pid, start time and command line
 * (processes.ts), never by pid alone: a reused pid is someone else's process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type {
  ActiveRun,
  ActiveRunQuery,
  CancelWait,
  JobHandle,
  JobStatus,
  SizingTable,
  SparkJobSpec,
  SparkRunner,
} from '../backends';
import { isSameProcess, processStartTime, RunRecords, type ProcessIdentity } from './processes';

export interface LocalSparkOptions {
  /** The spark-submit executable (the venv's, from pyspark). */
  sparkSubmit: string;
  /** Python that runs the job's driver and workers. */
  python: string;
  /** spark_jobs/ folder holding backfill_features.py. */
  jobDir: string;
  /** Folder for one log file per run. */
  logDir: string;
  /** Spark master, `local[N]`. */
  master?: string;
}

/**
 * A local run's handle (heartbeat details). Handles from before startTime and command were kept
 * (pid only) are handled as they were then: see reattach.
 */
export interface LocalJobHandle extends JobHandle {
  /** Field 22 of /proc/<pid>/stat when the run started. */
  startTime?: string;
  /** The job script and its arguments: how its command line ends. */
  command?: string[];
}

interface Run {
  child: ChildProcess;
  startTime?: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  log: string;
}

const LOCAL_DEFAULT_CONF: Record<string, string> = {
  // Few, small partitions: one machine, small days.
  'spark.sql.shuffle.partitions': '4',
  'spark.ui.enabled': 'false',
  'spark.driver.memory': '2g',
};

/**
 * Local settings by sizing tier (spark/sizing.ts): one machine, so only the one JVM's memory and the
 * shuffle partitions grow with the bronze a chunk reads.
 */
export const LOCAL_SPARK_SIZES: SizingTable = {
  small: { 'spark.driver.memory': '2g', 'spark.sql.shuffle.partitions': '4' },
  medium: { 'spark.driver.memory': '4g', 'spark.sql.shuffle.partitions': '8' },
  large: { 'spark.driver.memory': '8g', 'spark.sql.shuffle.partitions': '16' },
};

/** How long cancel() waits for a killed spark-submit to exit: SIGKILL takes effect at once. */
const KILL_WAIT_MS = 30_000;

export class LocalSparkRunner implements SparkRunner {
  /** spark-submit is a child of the worker: it cannot be followed from another worker. */
  readonly runsOutliveWorker = false;
  private readonly runs = new Map<string, Run>();
  /** Runs of this worker that ended: their pids may belong to other processes by now. */
  private readonly ended = new Set<string>();
  /** Every run started here, beside the logs, so any worker sharing them finds the ones still going. */
  private readonly records: RunRecords;

  constructor(private readonly options: LocalSparkOptions) {
    this.records = new RunRecords(path.join(options.logDir, 'runs'));
  }

  async submit(spec: SparkJobSpec): Promise<JobHandle> {
    await this.stopOrphans(spec.runName);
    const conf = { ...LOCAL_DEFAULT_CONF, ...spec.request.sparkConf };
    const confArgs = Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
    fs.mkdirSync(this.options.logDir, { recursive: true });
    const log = path.join(this.options.logDir, `${spec.runName.replace(/[^\w.-]+/g, '_')}.log`);
    const out = fs.openSync(log, 'w');
    const command = [path.join(this.options.jobDir, 'backfill_features.py'), ...spec.args];
    const child = spawn(
      this.options.sparkSubmit,
      ['--master', this.options.master ?? 'local[2]', ...confArgs, ...command],
      {
        cwd: this.options.jobDir,
        stdio: ['ignore', out, out],
        env: {
          ...process.env,
          PYSPARK_PYTHON: this.options.python,
          PYSPARK_DRIVER_PYTHON: this.options.python,
          PATH: `${path.dirname(this.options.python)}${path.delimiter}${process.env.PATH ?? ''}`,
        },
      },
    );
    fs.closeSync(out);
    const id = String(child.pid);
    // Read at once: spawn returns after the exec, and an exited child stays a zombie until reaped.
    const startTime = processStartTime(child.pid ?? 0);
    const run: Run = { child, log, startTime };
    this.runs.set(id, run);
    if (startTime !== undefined) this.records.add({ pid: child.pid!, startTime, command, runName: spec.runName, log });
    child.on('exit', (code, signal) => {
      run.exit = { code, signal };
      if (startTime !== undefined) this.records.remove({ pid: child.pid!, startTime });
    });
    child.on('error', (err) => {
      fs.appendFileSync(log, `\nfailed to start spark-submit: ${err.message}\n`);
      run.exit = { code: -1, signal: null };
    });
    const handle: LocalJobHandle = { backend: 'local', id, logLocation: log, startTime, command };
    return handle;
  }

  /**
   * Follows a run of this worker; kills one of a worker that died (it may still be writing) when
   * pid, start time and command line all match; otherwise the run is gone (its pid is another's).
   */
  async reattach(previous: JobHandle): Promise<JobHandle | undefined> {
    if (this.runOf(previous)) return previous;
    if (this.runs.has(previous.id) || this.ended.has(previous.id)) return undefined;
    if (isRunOf(previous)) killTree(Number(previous.id));
    return undefined;
  }

  async status(handle: JobHandle): Promise<JobStatus> {
    const run = this.runOf(handle);
    if (!run) return { state: 'failed', detail: `local job ${handle.id} is unknown to this worker` };
    if (!run.exit) return { state: 'running' };
    this.runs.delete(handle.id);
    this.ended.add(handle.id);
    if (run.exit.code === 0) return { state: 'succeeded' };
    if (run.exit.signal) return { state: 'cancelled', detail: `spark-submit ended by ${run.exit.signal}` };
    return {
      state: 'failed',
      detail: `spark-submit exited with code ${run.exit.code}: ${lastError(run.log)} (log: ${run.log})`,
    };
  }

  /** Kills the process tree and waits for spark-submit to exit, so nothing of it writes any more. */
  async cancel(handle: JobHandle, wait: CancelWait = {}): Promise<JobStatus> {
    const pid = Number(handle.id);
    const run = this.runOf(handle);
    if (!run && !isRunOf(handle))
      return { state: 'cancelled', detail: `spark-submit ${pid} is gone (no such process, or the pid is another's)` };
    // Ended and reaped already: its pid may be another process's by now.
    if (run?.exit) return this.status(handle);
    killTree(pid);
    const deadline = Date.now() + KILL_WAIT_MS;
    // A run of this worker: its exit event says when it is gone; one of a dead worker: /proc does.
    const gone = () => (run ? run.exit !== undefined : !isRunOf(handle));
    while (!gone()) {
      if (Date.now() >= deadline)
        return { state: 'running', detail: `spark-submit ${pid} still running ${KILL_WAIT_MS / 1000} s after SIGKILL` };
      wait.onPoll?.({ state: 'running', detail: 'killed, waiting for exit' });
      await new Promise((r) => setTimeout(r, 100));
    }
    if (run) return this.status(handle);
    return { state: 'cancelled', detail: `spark-submit ${pid} killed` };
  }

  /**
   * Runs of this chunk that a dead worker left going, recorded when they started: killed and waited
   * for before another run of the chunk starts, or both would write and commit the same days. The
   * dead worker's heartbeat may never have named its run (killed right after the submit), so the
   * records, not the handle, find it.
   */
  private async stopOrphans(runName: string): Promise<void> {
    const orphans = this.records.live().filter((r) => r.runName === runName && !this.runs.has(String(r.pid)));
    for (const orphan of orphans) killTree(orphan.pid);
    const deadline = Date.now() + KILL_WAIT_MS;
    while (orphans.some((orphan) => isSameProcess(orphan))) {
      if (Date.now() >= deadline) {
        const pids = orphans.map((o) => o.pid).join(', ');
        throw new Error(`spark-submit ${pids} of ${runName} still running ${KILL_WAIT_MS / 1000} s after SIGKILL`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Runs recorded by any worker sharing this log folder, still going, named for the holder. */
  async activeRuns(query: ActiveRunQuery): Promise<ActiveRun[]> {
    return this.records
      .live()
      .filter((r) => r.runName.startsWith(`${query.holder}/`))
      .map((r) => ({ id: String(r.pid), description: `spark-submit ${r.pid} of ${r.runName} (log: ${r.log})` }));
  }

  /** This worker's run the handle names: the same pid and, when the handle has one, the same start time. */
  private runOf(handle: JobHandle): Run | undefined {
    const run = this.runs.get(handle.id);
    const startTime = (handle as LocalJobHandle).startTime;
    return run && (startTime === undefined || startTime === run.startTime) ? run : undefined;
  }
}

/**
 * Whether the handle's process still runs: pid, start time and command line all match. A handle
 * from before they were recorded (pid only) is judged as it was then, by a Spark command line:
 * such handles exist only in attempts that ran across the upgrade, and taking their run for gone
 * would let an orphan of a crashed worker write beside the rerun, whereas a wrongly killed Spark
 * run of another chunk only fails that attempt, which is retried.
 */
function isRunOf(handle: JobHandle): boolean {
  const { startTime, command } = handle as LocalJobHandle;
  const pid = Number(handle.id);
  if (startTime === undefined || command === undefined) return isSparkSubmit(pid);
  const identity: ProcessIdentity = { pid, startTime, command };
  return isSameProcess(identity);
}

function isSparkSubmit(pid: number): boolean {
  try {
    return /spark|backfill_features/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * spark-submit starts a JVM and Python workers; kill the whole tree. Each process is stopped before
 * its children are listed and killed: a stopped parent can neither fork nor see a child die and exit
 * with a code of its own (the run would read "failed", not "cancelled").
 */
function killTree(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGSTOP');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return; // already gone
  }
  for (const child of childPids(pid)) killTree(child);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // A zombie its parent reaped meanwhile.
  }
}

/** Children started by any of the process's threads (the JVM starts Python from a thread other than its main one). */
function childPids(pid: number): number[] {
  let threads: string[];
  try {
    threads = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return threads.flatMap((tid) => {
    try {
      return fs
        .readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

/** The job's own one-line account of a failure it could name (spark_jobs/card_features/failures.py). */
const JOB_ERROR_PREFIX = 'card_features error: ';

/** The most telling line of a failed run's log, for the error message. */
function lastError(log: string): string {
  let text = '';
  try {
    text = fs.readFileSync(log, 'utf8');
  } catch {
    return 'no log';
  }
  // The job's own words beat any Java line: the JVM logs its shutdown after them.
  const named = text
    .split('\n')
    .filter((l) => l.startsWith(JOB_ERROR_PREFIX))
    .at(-1);
  if (named) return named.slice(JOB_ERROR_PREFIX.length).trim().slice(0, 2000);
  const lines = text.split('\n').filter((l) => /Error|Exception|error:/.test(l) && !/^\s+at /.test(l));
  return (lines.at(-1) ?? text.trim().split('\n').at(-1) ?? '').trim().slice(0, 500);
}
