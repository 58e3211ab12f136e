/**
 * The `backfill` command. `backfill run` starts a backfill (with a worker in this process for the
 * local backend) and follows it to its report.
 */
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createActivities } from '../activities';
import { createLocalBackends } from '../activities/local';
import { localPaths, taskQueue as defaultTaskQueue, temporalConnection } from '../config';
import { InputError, validateInput } from '../common/input';
import type { BackfillReport } from '../common/results';
import { backfillWorkflowId } from '../common/workflow-id';
import { gitRevision } from '../worker';
import { backfillWorkflow, progressQuery } from '../workflows';
import { rootMessage } from '../workflows/chunk';
import { formatProgressLine, formatReport } from './report';
import { parseRunArgs, RUN_HELP, UsageError } from './run-args';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const HELP = `Usage: backfill <command> [options]

Commands:
  run       start a feature backfill and follow it (backfill run --help)

Exit codes: 0 success, 1 backfill failed or partly failed, 2 bad usage.`;

/** Workflow input fields and the flags that set them, so errors name what to change. */
const FLAG_OF_FIELD: Record<string, string> = {
  bucket: '--bucket',
  codeBucket: '--code-bucket',
  startDate: '--start-date',
  endDate: '--end-date',
  featureVersion: '--feature-version',
  chunkSizeDays: '--chunk-size-days',
  featureGroup: '--feature-group',
  'emr.appId': '--emr-app-id',
  'emr.jobRole': '--emr-job-role',
  'glue.crawlerName': '--glue-crawler',
  maxConcurrentChunks: '--max-concurrent-chunks',
};

export interface Io {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
}

const processIo: Io = {
  out: (t) => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
  isTTY: Boolean(process.stdout.isTTY),
};

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      io.out(HELP);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (command === 'run') return await runCommand(rest, io);
    throw new UsageError(`unknown command "${command}"; commands: run`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`backfill: ${err.message}`);
      return EXIT.usage;
    }
    throw err;
  }
}

async function runCommand(argv: string[], io: Io): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.out(RUN_HELP);
    return EXIT.ok;
  }
  const opts = parseRunArgs(argv);
  for (const notice of opts.notices) io.err(`notice: ${notice}`);
  // The local worker may run elsewhere than this shell: send it an absolute lake directory.
  if (opts.backend === 'local' && typeof opts.input.bucket === 'string' && !opts.input.bucket.includes('://')) {
    opts.input.bucket = path.resolve(opts.input.bucket);
  }
  let request;
  try {
    request = validateInput(opts.input);
  } catch (err) {
    if (err instanceof InputError) throw new UsageError(`${FLAG_OF_FIELD[err.field] ?? err.field}: ${err.message.replace(/^invalid input: [^:]+: /, '')}`);
    throw err;
  }
  if (opts.directEmr) throw new UsageError('--direct-emr is not available in this build yet; run without it to use the workflow');

  const { connectionOptions, namespace } = temporalConnection();
  const connection = await Connection.connect(connectionOptions).catch((err: Error) => {
    throw new UsageError(
      `cannot reach Temporal at ${connectionOptions.address ?? 'localhost:7233'} (${err.message}); start it with scripts/local-up.sh or set TEMPORAL_ADDRESS`,
    );
  });
  const client = new Client({ connection, namespace });
  const taskQueue = opts.taskQueue ?? defaultTaskQueue();
  const workflowId = backfillWorkflowId(request);
  const handle = await client.workflow.start(backfillWorkflow, {
    args: [opts.input],
    taskQueue,
    workflowId,
    // The same backfill started twice follows the running one instead of running twice.
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const ui = uiUrl(connectionOptions.address, namespace, workflowId);
  io.err(`backfill started: ${workflowId} (task queue ${taskQueue}, ${opts.backend} backend)`);
  io.err(`Web UI: ${ui}`);
  if (!opts.follow) {
    io.out(workflowId);
    await connection.close();
    return EXIT.ok;
  }

  const follow = async (): Promise<BackfillReport> => {
    let last = '';
    const timer = setInterval(async () => {
      try {
        const line = formatProgressLine(await handle.query(progressQuery));
        if (line !== last) io.err(`${new Date().toISOString()} ${line}`);
        last = line;
      } catch {
        // The query races the workflow's start and end; the next tick tries again.
      }
    }, 2000);
    try {
      return await handle.result();
    } finally {
      clearInterval(timer);
    }
  };

  let report: BackfillReport;
  try {
    report = opts.backend === 'local' ? await withLocalWorker(taskQueue, namespace, follow) : await follow();
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause as { type?: string; message?: string } | undefined;
      io.err(`backfill ${workflowId} failed: ${rootMessage(err)}`);
      await connection.close();
      return cause?.type === 'InvalidInput' ? EXIT.usage : EXIT.failed;
    }
    throw err;
  }
  io.out(opts.json ? JSON.stringify(report, null, 2) : formatReport(report, ui));
  await connection.close();
  return report.status === 'succeeded' || report.status === 'dry_run' ? EXIT.ok : EXIT.failed;
}

/** Runs a local-backend worker in this process for as long as `work` takes. */
async function withLocalWorker<T>(taskQueue: string, namespace: string, work: () => Promise<T>): Promise<T> {
  const { connectionOptions } = temporalConnection();
  const paths = localPaths();
  installFileLogger(path.join(paths.stateDir, 'worker.log'));
  const connection = await NativeConnection.connect(connectionOptions);
  const backends = createLocalBackends({ ...paths, codeRevision: gitRevision() });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities(backends),
  });
  try {
    return await worker.runUntil(work);
  } finally {
    backends.featureStore.close();
    await connection.close();
  }
}

/** The in-process worker logs to a file: the terminal is for progress and the report. */
function installFileLogger(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const logger = new DefaultLogger('INFO', (entry) => {
    const meta = entry.meta ? ` ${JSON.stringify(entry.meta)}` : '';
    fs.appendFileSync(file, `${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} ${entry.message}${meta}\n`);
  });
  Runtime.install({ logger });
}

function uiUrl(address: string | undefined, namespace: string, workflowId: string): string {
  const base =
    process.env.BACKFILL_UI_URL ??
    (!address || /^(localhost|127\.0\.0\.1):7233$/.test(address) ? 'http://localhost:8233' : `https://${address.replace(/:\d+$/, '')}`);
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`backfill: ${(err as Error).stack ?? String(err)}`);
      process.exit(EXIT.failed);
    },
  );
}
