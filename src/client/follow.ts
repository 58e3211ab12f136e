/**
 * Follows a backfill to its end: a live progress bar on a terminal, timestamped log lines
 * otherwise (a line when something changes, and at least once a minute), then returns the report.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { BackfillReport, ChunkSummary } from '../common/results';
import { progressQuery, type BackfillProgress } from '../workflows/api';
import { decodeStates, MAX_PAGE_LIMIT } from '../common/chunk-book';
import type { Io } from './io';
import { chunkEvent, progressBar, progressKey, progressLine } from './progress';

const DEFAULT_POLL_MS = 1000;
/** Without changes, a log line still says the backfill is alive this often. */
const QUIET_LOG_MS = 60_000;

export async function followBackfill(
  handle: WorkflowHandle,
  io: Io,
  pollMs = DEFAULT_POLL_MS,
  quiet = false,
): Promise<BackfillReport> {
  // A dry run plans and ends within seconds: its report is all there is to show.
  if (quiet) return (await handle.result()) as BackfillReport;
  const printer = new ProgressPrinter(io);
  let inFlight: Promise<void> | undefined;
  const poll = async () => {
    if (inFlight) return; // a slow query must not pile up behind the next tick
    inFlight = (async () => {
      try {
        // Running chunks and the last finished ones: what changed since the last poll, bounded.
        printer.show(await handle.query(progressQuery, { chunks: 'recent', limit: MAX_PAGE_LIMIT }));
      } catch {
        // The query races the workflow's first task and its end; the next tick tries again.
      }
    })();
    await inFlight;
    inFlight = undefined;
  };

  const timer = setInterval(() => void poll(), pollMs);
  try {
    await poll();
    const report = (await handle.result()) as BackfillReport;
    printer.showFinal(report);
    return report;
  } finally {
    clearInterval(timer);
    // Let a query still under way end before the caller closes the connection under it.
    if (inFlight) await Promise.race([inFlight, new Promise((r) => setTimeout(r, 5000).unref())]);
    printer.clearStatus();
  }
}

/** What the follower has shown: chunk events once each, and the progress bar or line. */
class ProgressPrinter {
  private readonly seen = new Map<string, ChunkSummary>();
  private lastKey = '';
  private lastLineAt = 0;
  private statusShown = false;

  constructor(private readonly io: Io) {}

  show(p: BackfillProgress): void {
    // Before its first chunk is planned there is nothing to show; a dry run plans and ends.
    if (p.totals.chunks === 0 || p.status === 'dry_run') return;
    const now = Date.now();
    for (const c of p.chunks) {
      const event = chunkEvent(this.seen.get(c.chunk.id), c);
      if (event) this.line(this.io.isTTY ? event : `${new Date(now).toISOString()} ${event}`);
      this.seen.set(c.chunk.id, { ...c });
    }
    if (this.io.isTTY && this.io.status) {
      this.io.status(progressBar(p, now));
      this.statusShown = true;
      return;
    }
    const key = progressKey(p);
    if (key !== this.lastKey || now - this.lastLineAt >= QUIET_LOG_MS) {
      this.line(progressLine(p, now));
      this.lastKey = key;
      this.lastLineAt = now;
    }
  }

  /** The last chunks may have ended after the last poll: show the final state too. */
  showFinal(report: BackfillReport): void {
    if (!this.io.isTTY || !this.io.status) {
      this.show(finalProgress(report));
      return;
    }
    for (const c of report.chunks) {
      const event = chunkEvent(this.seen.get(c.chunk.id), c);
      if (event) this.line(event);
    }
  }

  clearStatus(): void {
    if (this.statusShown) this.io.status?.('');
  }

  private line(text: string): void {
    this.clearStatus();
    this.io.err(text);
    this.statusShown = false;
  }
}

function finalProgress(report: BackfillReport): BackfillProgress {
  // A large backfill's report lists only failed chunks; its states count the others.
  const pending = (report.states ? decodeStates(report.states) : report.chunks.map((c) => c.status)).filter(
    (s) => s === 'pending',
  ).length;
  return {
    workflowId: report.workflowId,
    status: report.status,
    paused: false,
    maxConcurrentChunks: 0,
    totals: { ...report.totals, running: 0, pending },
    chunks: report.chunks,
    startedAt: report.startedAt,
    runs: 0,
  };
}
