/** `backfill status`: where a backfill is (running: progress; ended: its report). */
import type { BackfillInput } from '../../common/input';
import type { BackfillReport } from '../../common/results';
import { SEARCH_ATTRIBUTES, type BackfillProgress } from '../../workflows/api';
import { rootMessage } from '../../common/errors';
import { WorkerUnavailableError } from '../connect';
import { costInputsOf, estimateBackfill } from '../cost';
import { EXIT, type CliDeps, type Io } from '../io';
import { formatCount, formatDuration, progressBar } from '../progress';
import { formatReport, table } from '../report';
import { TARGET_HELP } from '../target';
import { integerFlag, UsageError, wantsHelp } from '../usage';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, type ChunkFilter, type ChunkPageRequest } from '../../common/chunk-book';
import { exitCodeOf, followToReport } from '../follow-report';
import { validateRequest } from '../request';
import { openTarget, queryProgress, reportOf, startInput, type Target } from './target-command';

export const STATUS_HELP = `Usage: backfill status <workflow-id> [--follow] [--json] [--chunks failed|running|all] [--offset N] [--limit N]
       backfill status --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--feature-version VER] [--feature-group NAME] [--dry-run]

Show a backfill: while it runs, its progress (chunks done, failed, running and pending, rows,
records ingested, elapsed time and ETA) and each chunk; once it has ended, its report.

${TARGET_HELP}

Options:
  --follow                      follow a running backfill to its end (progress on stderr) and print the report;
                                a worker must serve it (the backfill run command that started it, or npm run worker)
  --json                        print the progress or the report as JSON
  --chunks failed|running|all   which chunks of a running backfill to list (default all; failed includes cancelled)
  --offset N                    skip the first N of them (default 0)
  --limit N                     list at most N (default ${DEFAULT_PAGE_LIMIT}, at most ${MAX_PAGE_LIMIT})
  -h, --help                    this help

Exit codes: 0 running, paused or succeeded; 1 failed, partly failed, cancelled or terminated; 2 bad usage
(e.g. no backfill with that id).`;

export async function statusCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(STATUS_HELP);
    return EXIT.ok;
  }
  const t = await openTarget(
    'status',
    argv,
    {
      follow: { type: 'boolean' },
      json: { type: 'boolean' },
      chunks: { type: 'string' },
      offset: { type: 'string' },
      limit: { type: 'string' },
    },
    (values) => void pageOf(values),
  );
  try {
    return t.description.status.name === 'RUNNING' ? await statusOfRunning(t, io, deps) : await statusOfEnded(t, io);
  } finally {
    await t.temporal.close();
  }
}

type StatusTarget = Target<Record<string, unknown>>;

/** A running backfill: followed to its report (--follow), or its progress now. */
async function statusOfRunning(t: StatusTarget, io: Io, deps: CliDeps): Promise<number> {
  if (t.values.follow) {
    return followToReport(t.handle, io, {
      local: false,
      taskQueue: t.description.taskQueue,
      json: Boolean(t.values.json),
      ui: t.ui,
      pollMs: deps.pollMs,
    });
  }
  let progress: BackfillProgress;
  try {
    progress = await queryProgress(t, undefined, pageOf(t.values));
  } catch (err) {
    if (!(err instanceof WorkerUnavailableError)) throw err;
    // Without a worker the search attributes still tell how far it got.
    const sa = t.description.typedSearchAttributes;
    io.err(`warning: ${err.message}`);
    io.out(
      `Backfill ${t.workflowId}: ${String(sa.get(SEARCH_ATTRIBUTES.status) ?? 'running').toUpperCase()}, ` +
        `${sa.get(SEARCH_ATTRIBUTES.chunksDone) ?? '?'}/${sa.get(SEARCH_ATTRIBUTES.chunksTotal) ?? '?'} chunks done (from its search attributes)\nWeb UI: ${t.ui}`,
    );
    return EXIT.ok;
  }
  io.out(t.values.json ? JSON.stringify(progress, null, 2) : formatProgress(progress, t.ui));
  return EXIT.ok;
}

/** An ended backfill: its report (a dry run's with a cost estimate), or how it ended without one. */
async function statusOfEnded(t: StatusTarget, io: Io): Promise<number> {
  const state = t.description.status.name;
  if (state !== 'COMPLETED') {
    let reason = '';
    if (state === 'FAILED') {
      reason = await t.handle.result().then(
        () => '',
        (err: unknown) => `: ${rootMessage(err)}`,
      );
    }
    io.out(`Backfill ${t.workflowId}: ${state}${reason} (no report)\nWeb UI: ${t.ui}`);
    io.err(`start it again with backfill run and the same flags: days already in gold are skipped`);
    return EXIT.failed;
  }
  const report = await reportOf(t.handle);
  const input = report.dryRun ? await startInput(t.handle).catch(() => undefined) : undefined;
  const estimate = report.dryRun && input ? dryRunEstimate(report, input) : undefined;
  io.out(
    t.values.json
      ? JSON.stringify(estimate ? { ...report, estimate } : report, null, 2)
      : formatReport(report, { uiUrl: t.ui, estimate }),
  );
  return exitCodeOf(report);
}

/** The page of chunks the flags ask for; bad values are usage errors. */
export function pageOf(values: Record<string, unknown>): ChunkPageRequest {
  const chunks = values.chunks as string | undefined;
  if (chunks !== undefined && !['failed', 'running', 'all'].includes(chunks)) {
    throw new UsageError(`--chunks must be failed, running or all, got ${JSON.stringify(chunks)}`);
  }
  const offset = integerFlag(values.offset as string | undefined, '--offset', 0);
  const limit = integerFlag(values.limit as string | undefined, '--limit');
  if (limit !== undefined && limit > MAX_PAGE_LIMIT)
    throw new UsageError(`--limit must be at most ${MAX_PAGE_LIMIT}, got ${limit}`);
  return {
    chunks: (chunks as ChunkFilter | undefined) ?? 'all',
    offset: offset ?? 0,
    limit: limit ?? DEFAULT_PAGE_LIMIT,
  };
}

/** A finished dry run's estimate at the default prices, from the input it was started with. */
function dryRunEstimate(report: BackfillReport, input: BackfillInput) {
  try {
    const request = validateRequest(input);
    return estimateBackfill(costInputsOf(report.dryRun!, request.allowedLatenessDays), request.sparkConf);
  } catch {
    return undefined;
  }
}

export function formatProgress(p: BackfillProgress, ui: string): string {
  const rows = [['CHUNK', 'STATUS', 'ROWS', 'RECORDS', 'DURATION', 'ATTEMPTS']];
  const now = Date.now();
  for (const c of p.chunks) {
    rows.push([
      c.chunk.id,
      c.status === 'failed' && c.error ? `failed at ${c.error.step}` : c.status,
      c.rows !== undefined ? formatCount(c.rows) : '-',
      c.recordsWritten !== undefined ? formatCount(c.recordsWritten) : '-',
      c.startedAt ? formatDuration((c.finishedAt ?? now) - c.startedAt) : '-',
      String(c.attempts),
    ]);
  }
  return [
    `Backfill ${p.workflowId}: ${p.status.toUpperCase()}${p.paused ? ' (paused: no new chunk starts; resume with backfill resume)' : ''}`,
    ...(p.totals.chunks === 0
      ? // Before the plan there is no bar to draw and no bound applied yet.
        ['  preflight and planning: no chunk planned yet']
      : [
          `  ${progressBar(p, now)}`,
          `  at most ${p.maxConcurrentChunks} chunk(s) at once${p.runs > 1 ? `; run ${p.runs} (continued as new)` : ''}`,
        ]),
    '',
    ...table(rows, [false, false, true, true, true, true]),
    ...pageLine(p),
    ...p.chunks.filter((c) => c.status === 'failed' && c.error).map((c) => `  ${c.chunk.id}: ${c.error!.message}`),
    `Web UI: ${ui}`,
  ].join('\n');
}

/** Which chunks the table shows, and how to see the next ones, when they are not all shown. */
function pageLine(p: BackfillProgress): string[] {
  const page = p.page;
  if (!page || (page.offset === 0 && p.chunks.length >= page.total)) return [];
  const end = page.offset + p.chunks.length;
  // An offset past the end (or a plan not made yet) shows nothing: say so rather than "3001-3000 of 0".
  if (p.chunks.length === 0)
    return [`  no chunks at offset ${page.offset}: ${formatCount(page.total)} ${page.chunks} chunk(s) so far`];
  const lines = [`  chunks ${page.offset + 1}-${end} of ${formatCount(page.total)} (${page.chunks})`];
  if (end < page.total)
    lines.push(`  next: backfill status ${p.workflowId} --chunks ${page.chunks} --offset ${end} --limit ${page.limit}`);
  return lines;
}
