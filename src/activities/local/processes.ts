/**
 * Which process a local Spark run is, beyond its pid (pids are reused): its start time and the
 * command line that names the run, read from /proc; and the records of the runs a runner started,
 * kept beside their logs so another worker (or a later one) can find the ones still going.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A process as the runner started it. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot at which it started; kept across exec. */
  startTime: string;
  /**
   * The end of its command line: the job script and its arguments. spark-submit execs spark-class,
   * then java, which reorders Spark's own options but keeps these last and in order.
   */
  command: string[];
}

/** Field 22 of /proc/<pid>/stat, or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the name) is in parentheses and may hold spaces or parentheses: count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[22 - 3];
  } catch {
    return undefined;
  }
}

export function processCommandLine(pid: number): string[] | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return undefined;
  }
}

/** Whether the pid is still that process: the same start time, and a command line ending with its command. */
export function isSameProcess(id: ProcessIdentity): boolean {
  const startTime = processStartTime(id.pid);
  const argv = processCommandLine(id.pid);
  if (startTime === undefined || startTime !== id.startTime || !argv || id.command.length === 0) return false;
  const tail = argv.slice(argv.length - id.command.length);
  return tail.length === id.command.length && tail.every((arg, i) => arg === id.command[i]);
}

/** A run a runner started, as recorded beside the logs. */
export interface RunRecord extends ProcessIdentity {
  /** SparkJobSpec.runName: the chunk workflow id, `<backfill workflow id>/chunk-<chunk id>`. */
  runName: string;
  log: string;
}

/** One JSON file per run, `<pid>-<start time>.json`, removed when the run is seen to end. */
export class RunRecords {
  constructor(private readonly dir: string) {}

  add(record: RunRecord): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const file = this.file(record);
    // Whole or not at all: a reader never sees half a record.
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(record));
    fs.renameSync(`${file}.tmp`, file);
  }

  remove(id: Pick<ProcessIdentity, 'pid' | 'startTime'>): void {
    fs.rmSync(this.file(id), { force: true });
  }

  /** The recorded runs whose process still runs; records of ended ones are removed on the way. */
  live(): RunRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const records: RunRecord[] = [];
    for (const name of names) {
      let record: RunRecord;
      try {
        record = JSON.parse(fs.readFileSync(path.join(this.dir, name), 'utf8')) as RunRecord;
      } catch {
        continue; // removed meanwhile
      }
      if (isSameProcess(record)) records.push(record);
      else this.remove(record);
    }
    return records;
  }

  private file(id: Pick<ProcessIdentity, 'pid' | 'startTime'>): string {
    return path.join(this.dir, `${id.pid}-${id.startTime}.json`);
  }
}
