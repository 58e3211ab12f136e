/** `backfill pause` and `backfill resume`: the workflow's pause/resume signals. */
import { pauseSignal, resumeSignal } from '../../workflows/api';
import { EXIT, type Io } from '../io';
import { TARGET_HELP } from '../target';
import { wantsHelp } from '../usage';
import { openTarget, queryProgress, requireRunning } from './target-command';

export const PAUSE_HELP = `Usage: backfill pause <workflow-id>
       backfill pause --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--feature-version VER] [--feature-group NAME]

Pause a running backfill: no new chunk starts; chunks already running finish (their Spark jobs,
ingestion and validation run to the end). The backfill waits, paused, until backfill resume.

${TARGET_HELP}

Options:
  -h, --help                    this help

Exit codes: 0 pause requested, 2 bad usage (no such backfill, or it is not running).`;

export const RESUME_HELP = `Usage: backfill resume <workflow-id>
       backfill resume --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--feature-version VER] [--feature-group NAME]

Resume a paused backfill: pending chunks start again, up to its maximum concurrency.

${TARGET_HELP}

Options:
  -h, --help                    this help

Exit codes: 0 resume requested, 2 bad usage (no such backfill, or it is not running).`;

export function pauseCommand(argv: string[], io: Io): Promise<number> {
  return signalCommand('pause', argv, io);
}

export function resumeCommand(argv: string[], io: Io): Promise<number> {
  return signalCommand('resume', argv, io);
}

async function signalCommand(command: 'pause' | 'resume', argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(command === 'pause' ? PAUSE_HELP : RESUME_HELP);
    return EXIT.ok;
  }
  const t = await openTarget(command, argv, {});
  try {
    requireRunning(t, command);
    // A signal is accepted by the server even when no worker is up; it applies when one is.
    await t.handle.signal(command === 'pause' ? pauseSignal : resumeSignal);
    io.out(command === 'pause' ? `pause requested: ${t.workflowId}` : `resume requested: ${t.workflowId}`);
    try {
      const p = await queryProgress(t, 5000);
      const running = p.totals.running;
      io.err(
        command === 'pause'
          ? `${p.status}: ${running} chunk(s) still running will finish; ${p.totals.pending} pending chunk(s) wait for backfill resume`
          : `${p.status}: ${p.totals.pending} pending chunk(s), up to ${p.maxConcurrentChunks} at once`,
      );
    } catch (err) {
      io.err(`warning: ${(err as Error).message}`);
    }
    return EXIT.ok;
  } finally {
    await t.temporal.close();
  }
}
