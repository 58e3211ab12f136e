/** Following a started backfill to its report, shared by run, status --follow, cancel and retry-failed. */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { rootMessage } from '../common/errors';
import { FAILURE } from '../common/failures';
import type { BackfillReport } from '../common/results';
import type { CostEstimate } from './cost';
import { followBackfill } from './follow';
import { EXIT, type Io } from './io';
import { withLocalWorker } from './local-worker';
import { formatReport } from './report';
import { FLAG_OF_FIELD } from './usage';

export interface FollowOptions {
  /** Host a local-backend worker in this process while following. */
  local: boolean;
  taskQueue: string;
  json: boolean;
  ui: string;
  pollMs?: number;
  /** No progress lines (a dry run). */
  quiet?: boolean;
  estimate?: (report: BackfillReport) => CostEstimate | undefined;
  allowedLatenessDays?: number;
}

/** Follows a started backfill, prints its report and returns the exit code it calls for. */
export async function followToReport(handle: WorkflowHandle, io: Io, o: FollowOptions): Promise<number> {
  const follow = () => followBackfill(handle, io, o.pollMs, o.quiet);
  // Ctrl-C stops following, never the backfill: say how to pick it up again.
  const onSigint = () => {
    if (io.isTTY) io.status?.('');
    io.err(
      o.local
        ? `\nstopped following ${handle.workflowId}; its worker ran in this command, so the backfill waits. ` +
            `Run the same command again to continue where it stopped, or: backfill cancel ${handle.workflowId}`
        : `\nstopped following ${handle.workflowId}; it goes on. Follow it again with: backfill status --follow ${handle.workflowId}`,
    );
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  let report: BackfillReport;
  try {
    report = o.local ? await withLocalWorker(o.taskQueue, follow) : await follow();
  } catch (err) {
    if (err instanceof WorkflowFailedError) return failedWithoutReport(handle.workflowId, err, io);
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const estimate = o.estimate?.(report);
  if (o.json) io.out(JSON.stringify(estimate ? { ...report, estimate } : report, null, 2));
  else io.out(formatReport(report, { uiUrl: o.ui, estimate, allowedLatenessDays: o.allowedLatenessDays }));
  return exitCodeOf(report);
}

export function exitCodeOf(report: BackfillReport): number {
  return report.status === 'succeeded' || report.status === 'dry_run' ? EXIT.ok : EXIT.failed;
}

/** The workflow itself failed (no report): a rejected input is bad usage, anything else a failure. */
function failedWithoutReport(workflowId: string, err: WorkflowFailedError, io: Io): number {
  const cause = err.cause as { type?: string } | undefined;
  if (cause?.type === FAILURE.backfillOverlap) {
    // Refused at start: another backfill of the same group and version has some of these days.
    io.err(`backfill ${workflowId} refused: ${rootMessage(err)}`);
    return EXIT.usage;
  }
  if (cause?.type === FAILURE.invalidInput) {
    // The message names the input field ("emr.appId: ..."); name the flag as well.
    const message = rootMessage(err).replace(/^invalid input: /, '');
    const field = /^([\w.]+):/.exec(message)?.[1];
    const flag = field ? FLAG_OF_FIELD[field] : undefined;
    io.err(`backfill: ${flag ? `${flag} (${message})` : message}`);
    return EXIT.usage;
  }
  io.err(`backfill ${workflowId} failed: ${rootMessage(err)}`);
  io.err(
    `see the workflow's history in the Web UI; fix the cause and start the same backfill again (days already written are skipped)`,
  );
  return EXIT.failed;
}
