/**
 * `backfill retry-failed`: runs the failed (and cancelled, never started) chunks of a backfill
 * again. A running backfill queues them again itself (the retryFailed update); an ended one is
 * started again under the same workflow id with only those chunks (input.onlyChunks).
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { lakeRoot } from '../../activities/lake-paths';
import { retryFailedUpdate } from '../../workflows/api';
import { decodeStates } from '../../common/chunk-book';
import type { BackfillInput } from '../../common/input';
import { planChunks } from '../../common/plan';
import type { BackfillReport } from '../../common/results';
import { listsEveryChunk } from '../report';
import { rootMessage } from '../../common/errors';
import type { backfillWorkflow } from '../../workflows/backfill';
import { withWorker } from '../connect';
import { EXIT, type CliDeps, type Io } from '../io';
import { TARGET_HELP } from '../target';
import { exclusive, UsageError, wantsHelp } from '../usage';
import { followToReport } from '../follow-report';
import { validateRequest } from '../request';
import { openTarget, reportOf, startInput, type Target } from './target-command';

export const RETRY_FAILED_HELP = `Usage: backfill retry-failed <workflow-id> [--local | --aws] [--no-follow] [--json]
       backfill retry-failed --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--feature-version VER] [--feature-group NAME] [options]

Run the failed chunks of a backfill again.
- Running backfill: its failed and cancelled chunks are queued again (retryFailed update) and run
  with the others; this command then follows it to its report.
- Ended backfill (succeeded with failures, partly failed, failed or cancelled): it is started again
  under the same workflow id with the same input, limited to the chunks that did not succeed
  (input.onlyChunks), and followed to its report. Chunks that succeeded are not run again.

${TARGET_HELP}

Options:
  --local                       host a local-backend worker in this process while following
                                (default when the backfill's bucket is a local directory)
  --aws                         do not host a worker: one started with BACKFILL_BACKEND=aws serves the
                                task queue (default when the bucket is an S3 bucket)
  --follow                      follow the backfill to its end and print the report (default)
  --no-follow                   print the workflow id and return (not with --local)
  --json                        print the report as JSON
  -h, --help                    this help

Exit codes: 0 the retried chunks succeeded (or nothing to retry), 1 some failed again,
2 bad usage (no such backfill, a dry run, or no report to take the failed chunks from).`;

const RETRY_FLAGS = {
  local: { type: 'boolean' },
  aws: { type: 'boolean' },
  follow: { type: 'boolean' },
  'no-follow': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const NO_FOLLOW_LOCAL =
  '--no-follow needs --aws: with --local the worker runs inside this command and would stop with it';

type RetryTarget = Target<Record<string, unknown>>;

interface RetryOptions {
  follow: boolean;
  json: boolean;
  taskQueue: string;
}

export async function retryFailedCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(RETRY_FAILED_HELP);
    return EXIT.ok;
  }
  const t = await openTarget('retry-failed', argv, RETRY_FLAGS, (values) => {
    exclusive(values, 'local', 'aws', 'pick one backend');
    exclusive(values, 'follow', 'no-follow', 'pick one');
    if (values.local && values['no-follow']) throw new UsageError(NO_FOLLOW_LOCAL);
  });
  try {
    const o = { follow: !t.values['no-follow'], json: Boolean(t.values.json), taskQueue: t.description.taskQueue };
    if (t.description.status.name === 'RUNNING') {
      const code = await retryRunning(t, o, io, deps);
      // Past its chunks: once it has ended, its failed chunks are run again as for any ended backfill.
      return code ?? (await retryFailedCommand(argv, io, deps));
    }
    return await retryEnded(t, o, io, deps);
  } finally {
    await t.temporal.close();
  }
}

/**
 * A running backfill queues its failed chunks again itself (the retryFailed update). Undefined when
 * it is past its chunks: this waits for its end, after which it is retried as an ended one.
 */
async function retryRunning(t: RetryTarget, o: RetryOptions, io: Io, deps: CliDeps): Promise<number | undefined> {
  const ids = await withWorker(t.temporal, 30_000, 'retryFailed update', o.taskQueue, () =>
    t.handle.executeUpdate(retryFailedUpdate),
  ).catch((err: unknown) => (isLateRetry(err) ? undefined : Promise.reject(err)));
  if (ids === undefined) {
    io.err(`${t.workflowId} has finished its chunks and is ending; waiting for its end to run the failed chunks again`);
    await t.handle.result().catch(() => undefined);
    return undefined;
  }
  if (ids.length === 0) {
    io.out(`nothing to retry: no chunk of ${t.workflowId} has failed or been cancelled so far`);
    return EXIT.ok;
  }
  io.err(`queued again in ${t.workflowId}: ${ids.join(', ')}`);
  if (!o.follow) {
    io.out(t.workflowId);
    return EXIT.ok;
  }
  // Its worker is wherever it was started; this command only watches.
  return followToReport(t.handle, io, {
    local: false,
    taskQueue: o.taskQueue,
    json: o.json,
    ui: t.ui,
    pollMs: deps.pollMs,
  });
}

/** An ended backfill is started again under its id with only the chunks that did not succeed. */
async function retryEnded(t: RetryTarget, o: RetryOptions, io: Io, deps: CliDeps): Promise<number> {
  const report = await reportToRetry(t);
  const input = await startInput(t.handle);
  const again = unfinishedChunks(report, input);
  if (again.length === 0) {
    io.out(`nothing to retry: every chunk of ${t.workflowId} succeeded`);
    return EXIT.ok;
  }
  const local =
    Boolean(t.values.local) ||
    (!t.values.aws && typeof input.bucket === 'string' && lakeRoot(input.bucket).startsWith('file://'));
  if (local && !o.follow) throw new UsageError(NO_FOLLOW_LOCAL);
  const handle = await startAgain(t, { ...input, onlyChunks: again }, report, o.taskQueue);
  io.err(`retrying ${again.length} chunk(s) of ${t.workflowId} (${report.status}): ${again.join(', ')}`);
  io.err(`Web UI: ${t.ui}`);
  if (!o.follow) {
    io.out(t.workflowId);
    return EXIT.ok;
  }
  return followToReport(handle, io, { local, taskQueue: o.taskQueue, json: o.json, ui: t.ui, pollMs: deps.pollMs });
}

/** The report of an ended backfill, which names its chunks; bad usage when it has none to retry. */
async function reportToRetry(t: RetryTarget): Promise<BackfillReport> {
  const state = t.description.status.name;
  if (state !== 'COMPLETED') {
    const reason =
      state === 'FAILED'
        ? await t.handle.result().then(
            () => '',
            (err: unknown) => `: ${rootMessage(err)}`,
          )
        : '';
    throw new UsageError(
      `backfill ${t.workflowId} ended ${state}${reason}, without a report of its chunks; start it again with backfill run and the same flags (days already in gold are skipped)`,
    );
  }
  const report = await reportOf(t.handle);
  if (report.dryRun)
    throw new UsageError(`${t.workflowId} is a dry run: it has no chunks to retry; run the backfill without --dry-run`);
  return report;
}

/** Starts the ended backfill again under its id; bad usage when someone started it meanwhile. */
async function startAgain(t: RetryTarget, input: BackfillInput, report: BackfillReport, taskQueue: string) {
  try {
    return await t.temporal.client.workflow.start<typeof backfillWorkflow>('backfillWorkflow', {
      // Resume the ended run: gold it committed is kept and its publication resumed, not rebuilt.
      args: [{ ...input, ...(report.runId ? { resumeRunId: report.runId } : {}) }],
      taskQueue,
      workflowId: t.workflowId,
      workflowIdConflictPolicy: 'FAIL',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new UsageError(
        `backfill ${t.workflowId} was started again meanwhile; run backfill retry-failed ${t.workflowId} once more to act on the running one`,
      );
    }
    throw err;
  }
}

/**
 * The ids of the chunks that did not succeed. A large backfill's report lists only some of them;
 * its run-length encoded states, over the plan of the input it ran with, name them all.
 */
export function unfinishedChunks(report: BackfillReport, input: BackfillInput): string[] {
  if (listsEveryChunk(report) || !report.states)
    return report.chunks.filter((c) => c.status !== 'succeeded').map((c) => c.chunk.id);
  const request = validateRequest({ ...input, allowIncompleteDays: true });
  const plan = planChunks(request.startDate, request.endDate, request.chunkSizeDays).filter(
    (c) => !request.onlyChunks || request.onlyChunks.includes(c.id),
  );
  const states = decodeStates(report.states);
  if (states.length !== plan.length) {
    throw new UsageError(
      `the report of ${report.workflowId} has ${states.length} chunk states but its input plans ${plan.length} chunks; start it again with backfill run`,
    );
  }
  return plan.filter((_, i) => states[i] !== 'succeeded').map((c) => c.id);
}

/** The retryFailed update refused because the backfill is past its chunks (chunk-outcomes.ts refuseLateRetry). */
function isLateRetry(err: unknown): boolean {
  return err instanceof WorkflowUpdateFailedError && /has finished its chunks/.test(String(err.cause?.message));
}
