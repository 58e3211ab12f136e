/**
 * Runs the Spark job with `spark-submit` in local mode, one child process per chunk.
 * The job is idempotent per chunk, so a run orphaned by a crashed worker is killed and the
 * chunk is run again rather than followed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CancelWait, JobHandle, JobStatus, SparkJobSpec, SparkRunner } from '../backends';
import type { SizingTable } from '../sizing';

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

interface Run {
  child: ChildProcess;
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
 * Local settings by sizing tier (sizing.ts): one machine, so only the one JVM's memory and the
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

  constructor(private readonly options: LocalSparkOptions) {}

  async submit(spec: SparkJobSpec): Promise<JobHandle> {
    const conf = { ...LOCAL_DEFAULT_CONF, ...spec.request.sparkConf };
    const confArgs = Object.entries(conf).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
    fs.mkdirSync(this.options.logDir, { recursive: true });
    const log = path.join(this.options.logDir, `${spec.runName.replace(/[^\w.-]+/g, '_')}.log`);
    const out = fs.openSync(log, 'w');
    const child = spawn(
      this.options.sparkSubmit,
      [
        '--master',
        this.options.master ?? 'local[2]',
        ...confArgs,
        path.join(this.options.jobDir, 'backfill_features.py'),
        ...spec.args,
      ],
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
    const run: Run = { child, log };
    this.runs.set(id, run);
    child.on('exit', (code, signal) => (run.exit = { code, signal }));
    child.on('error', (err) => {
      fs.appendFileSync(log, `\nfailed to start spark-submit: ${err.message}\n`);
      run.exit = { code: -1, signal: null };
    });
    return { backend: 'local', id, logLocation: log };
  }

  async reattach(previous: JobHandle): Promise<JobHandle | undefined> {
    if (this.runs.has(previous.id)) return previous;
    if (this.ended.has(previous.id)) return undefined;
    // Started by a worker that died: its process may still be writing; stop it before a rerun.
    if (isSparkSubmit(Number(previous.id))) killTree(Number(previous.id));
    return undefined;
  }

  async status(handle: JobHandle): Promise<JobStatus> {
    const run = this.runs.get(handle.id);
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
    killTree(pid);
    const run = this.runs.get(handle.id);
    const deadline = Date.now() + KILL_WAIT_MS;
    // A run of this worker: its exit event says when it is gone; one of a dead worker: /proc does.
    const gone = () => (run ? run.exit !== undefined : !isSparkSubmit(pid));
    while (!gone()) {
      if (Date.now() >= deadline)
        return { state: 'running', detail: `spark-submit ${pid} still running ${KILL_WAIT_MS / 1000} s after SIGKILL` };
      wait.onPoll?.({ state: 'running', detail: 'killed, waiting for exit' });
      await new Promise((r) => setTimeout(r, 100));
    }
    if (run) return this.status(handle);
    return { state: 'cancelled', detail: `spark-submit ${pid} killed` };
  }
}

function isSparkSubmit(pid: number): boolean {
  try {
    return /spark|backfill_features/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/** spark-submit starts a JVM and Python workers; kill the whole tree. */
function killTree(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) return;
  for (const child of childPids(pid)) killTree(child);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
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
