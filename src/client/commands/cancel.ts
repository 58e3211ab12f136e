/** `backfill cancel`: cancels a running backfill; it winds down its chunks and reports what was done. */
import { EXIT, type CliDeps, type Io } from '../io';
import { TARGET_HELP } from '../target';
import { wantsHelp } from '../usage';
import { followToReport } from '../follow-report';
import { openTarget, requireRunning } from './target-command';

export const CANCEL_HELP = `Usage: backfill cancel <workflow-id> [--wait] [--json]
       backfill cancel --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--feature-version VER] [--feature-group NAME]

Cancel a running backfill. Running chunks are cancelled (their EMR Serverless job runs too);
chunks that finished keep their results. The backfill then ends with a report, status CANCELLED;
backfill retry-failed runs the cancelled and never-started chunks later.

${TARGET_HELP}

Options:
  --wait                        wait for the backfill to wind down and print its report
                                (a worker must serve it)
  --json                        with --wait, print the report as JSON
  -h, --help                    this help

Exit codes: 0 cancellation requested (with --wait: the backfill ended cancelled or succeeded),
1 with --wait, the backfill ended failed or partly failed; 2 bad usage (no such backfill, or not running).`;

export async function cancelCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(CANCEL_HELP);
    return EXIT.ok;
  }
  const t = await openTarget('cancel', argv, { wait: { type: 'boolean' }, json: { type: 'boolean' } });
  try {
    requireRunning(t, 'cancel');
    await t.handle.cancel();
    io.out(`cancellation requested: ${t.workflowId}`);
    if (!t.values.wait) {
      io.err(`running chunks are being cancelled; see the final report with backfill status ${t.workflowId}`);
      return EXIT.ok;
    }
    const code = await followToReport(t.handle, io, {
      local: false,
      taskQueue: t.description.taskQueue,
      json: Boolean(t.values.json),
      ui: t.ui,
      pollMs: deps.pollMs,
    });
    // Ended as asked: cancelled (or it had just succeeded) is what the operator wanted.
    const report = await t.handle.result().catch(() => undefined);
    return report && report.status === 'cancelled' ? EXIT.ok : code;
  } finally {
    await t.temporal.close();
  }
}
