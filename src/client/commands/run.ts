/**
 * `backfill run`: validates the flags into a workflow input, starts the backfill workflow (or,
 * with --direct-emr, one EMR Serverless job) and follows it to its report.
 */
import * as path from 'node:path';
import { workerAllowances } from '../../config';
import { validateInput, type BackfillRequest } from '../../common/input';
import { backfillWorkflowId } from '../../common/workflow-id';
import type { backfillWorkflow } from '../../workflows/backfill';
import { connectTemporal, describeBackfill, uiUrl, type Temporal } from '../connect';
import { costInputsOf, estimateBackfill } from '../cost';
import { followToReport, type FollowOptions } from '../follow-report';
import { EXIT, type CliDeps, type Io } from '../io';
import { validateRequest } from '../request';
import { parseRunArgs, RUN_HELP, type RunOptions } from '../run-args';
import { FLAG_OF_FIELD, wantsHelp } from '../usage';
import { directEmr } from './direct-emr';
import { onlyStaleInput } from './only-stale';
import { startInput } from './target-command';

export async function runCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(RUN_HELP);
    return EXIT.ok;
  }
  const opts = parseRunArgs(argv);
  for (const notice of opts.notices) io.err(`notice: ${notice}`);
  // The worker may run elsewhere than this shell: send it an absolute lake directory.
  if (opts.backend === 'local' && typeof opts.input.bucket === 'string' && !opts.input.bucket.includes('://')) {
    opts.input.bucket = path.resolve(opts.input.bucket);
  }
  // A direct EMR run has no worker: this process applies the worker's sparkConf allowance itself.
  let request = validateRequest(opts.input, opts.directEmr ? workerAllowances().sparkConf : undefined);
  if (opts.onlyStale) {
    const narrowed = await onlyStaleInput(request, opts.input, io, deps);
    if (!narrowed) return EXIT.ok;
    request = validateRequest((opts.input = narrowed));
  }
  if (opts.directEmr) return directEmr(request, opts, io, deps);

  const temporal = await connectTemporal();
  try {
    return await startAndFollow({ temporal, opts, request, io, deps });
  } finally {
    await temporal.close();
  }
}

/** What `run` starts a backfill with, and where it reports. */
interface StartContext {
  temporal: Temporal;
  opts: RunOptions;
  request: BackfillRequest;
  io: Io;
  deps: CliDeps;
}

async function startAndFollow({ temporal, opts, request, io, deps }: StartContext): Promise<number> {
  const taskQueue = opts.taskQueue;
  const workflowId = backfillWorkflowId(request);
  const existing = await describeBackfill(temporal.client.workflow.getHandle(workflowId), temporal.namespace).catch(
    () => undefined,
  );
  const handle = await temporal.client.workflow.start<typeof backfillWorkflow>('backfillWorkflow', {
    args: [opts.input],
    taskQueue,
    workflowId,
    // The same backfill started twice follows the running one instead of running twice.
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const ui = uiUrl(temporal.address, temporal.namespace, workflowId);
  // USE_EXISTING hands back a running backfill of this id whatever input it was started with
  // (also one started by someone else since the describe above): following it would not do what was asked.
  const differences = inputDifferences(await startInput(handle, handle.firstExecutionRunId), request);
  if (differences.length > 0) {
    io.err(
      `backfill: ${workflowId} is already running with a different input (${differences.join('; ')}); ` +
        `it must finish or be cancelled first (backfill cancel ${workflowId}), then run this command again`,
    );
    io.err(`Web UI: ${ui}`);
    return EXIT.usage;
  }
  if (existing?.status.name === 'RUNNING') {
    io.err(
      `backfill ${workflowId} is already running (since ${existing.startTime.toISOString()}) with the same input: following it`,
    );
  } else {
    io.err(`backfill started: ${workflowId} (task queue ${taskQueue}, ${opts.backend} backend)`);
  }
  io.err(`Web UI: ${ui}`);
  if (!opts.follow) {
    io.out(workflowId);
    return EXIT.ok;
  }
  return followToReport(handle, io, followOptions(opts, request, ui, deps));
}

/** How `run` follows its backfill: hosting the worker with --local; a dry run's report with a cost estimate. */
function followOptions(opts: RunOptions, request: BackfillRequest, ui: string, deps: CliDeps): FollowOptions {
  return {
    local: opts.backend === 'local',
    taskQueue: opts.taskQueue,
    json: opts.json,
    ui,
    pollMs: deps.pollMs,
    quiet: request.dryRun,
    estimate: (report) =>
      report.dryRun
        ? estimateBackfill(
            costInputsOf(report.dryRun, request.allowedLatenessDays),
            request.sparkConf,
            opts.prices,
            opts.assumptions,
          )
        : undefined,
    allowedLatenessDays: request.allowedLatenessDays,
  };
}

/** Fields of the request that differ from the running one's, e.g. `overwrite: running false, asked true`. */
function inputDifferences(running: unknown, asked: BackfillRequest): string[] {
  let theirs: BackfillRequest;
  try {
    theirs = validateInput(running);
  } catch {
    return ['the running one was started with an input this version does not accept'];
  }
  // Waiting for an overlap only matters at the start, which is behind the running one.
  const ignored = new Set<string>(['waitForOverlap']);
  const fields = new Set([...Object.keys(theirs), ...Object.keys(asked)].filter((k) => !ignored.has(k)));
  const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  return [...fields]
    .filter((k) => show(theirs[k as keyof BackfillRequest]) !== show(asked[k as keyof BackfillRequest]))
    .map(
      (k) =>
        `${FLAG_OF_FIELD[k] ?? k}: running ${show(theirs[k as keyof BackfillRequest])}, asked ${show(asked[k as keyof BackfillRequest])}`,
    );
}
