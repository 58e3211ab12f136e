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
import { wantsHelp } from '../usage';
import { exitCodeOf, followToReport, validateRequest } from './run';
import { openTarget, queryProgress, reportOf, startInput } from './target-command';

export const STATUS_HELP = `Usage: backfill status <workflow-id> [--follow] [--json]
       backfill status --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--feature-version VER] [--feature-group NAME] [--dry-run]

Show a backfill: while it runs, its progress (chunks done, failed, running and pending, rows,
records ingested, elapsed time and ETA) and each chunk; once it has ended, its report.

${TARGET_HELP}

Options:
  --follow                      follow a running backfill to its end (progress on stderr) and print the report;
                                a worker must serve it (the backfill run command that started it, or npm run worker)
  --json                        print the progress or the report as JSON
  -h, --help                    this help

Exit codes: 0 running, paused or succeeded; 1 failed, partly failed, cancelled or terminated; 2 bad usage
(e.g. no backfill with that id).`;

export async function statusCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(STATUS_HELP);
    return EXIT.ok;
  }
  const t = await openTarget('status', argv, { follow: { type: 'boolean' }, json: { type: 'boolean' } });
  try {
    const state = t.description.status.name;
    if (state === 'RUNNING') {
      if (t.values.follow) {
        return await followToReport(t.handle, io, { local: false, taskQueue: t.description.taskQueue, json: Boolean(t.values.json), ui: t.ui, pollMs: deps.pollMs });
      }
      let progress: BackfillProgress;
      try {
        progress = await queryProgress(t);
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
    io.out(t.values.json ? JSON.stringify(estimate ? { ...report, estimate } : report, null, 2) : formatReport(report, { uiUrl: t.ui, estimate }));
    return exitCodeOf(report);
  } finally {
    await t.temporal.close();
  }
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
    `  ${progressBar(p, now)}`,
    `  at most ${p.maxConcurrentChunks} chunk(s) at once${p.runs > 1 ? `; run ${p.runs} (continued as new)` : ''}`,
    '',
    ...table(rows, [false, false, true, true, true, true]),
    ...p.chunks.filter((c) => c.status === 'failed' && c.error).map((c) => `  ${c.chunk.id}: ${c.error!.message}`),
    `Web UI: ${ui}`,
  ].join('\n');
}
