/** Progress of a running backfill as text: the live bar on a terminal, log lines otherwise. Pure. */
import type { ChunkSummary } from '../common/results';
import type { BackfillProgress } from '../workflows/api';

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function finishedChunks(p: BackfillProgress): number {
  return p.totals.succeeded + p.totals.failed + p.totals.cancelled;
}

/**
 * Time left, from the pace so far: elapsed * unfinished / finished. With chunks of similar size
 * this already accounts for the concurrency. Unknown until a chunk has finished, or while paused.
 */
export function etaMs(p: BackfillProgress, now: number): number | undefined {
  const finished = finishedChunks(p);
  const left = p.totals.running + p.totals.pending;
  if (left === 0) return 0;
  if (finished === 0 || p.paused) return undefined;
  return ((now - p.startedAt) * left) / finished;
}

function timing(p: BackfillProgress, now: number): string {
  const eta = etaMs(p, now);
  const etaText = p.paused ? 'ETA paused' : eta === undefined ? 'ETA --' : `ETA ${formatDuration(eta)}`;
  return `${formatDuration(now - p.startedAt)} elapsed, ${etaText}`;
}

/**
 * The live line on a terminal, e.g. `running [#####.......] 3/8 chunks (2 ok, 1 failed, 2 running) | ...`.
 * Most important first: a narrow terminal cuts the end.
 */
export function progressBar(p: BackfillProgress, now: number, width = 16): string {
  const t = p.totals;
  const done = t.chunks === 0 ? 0 : Math.round((finishedChunks(p) / t.chunks) * width);
  const bar = `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
  return (
    `${phaseOf(p)} ${bar} ${finishedChunks(p)}/${t.chunks} chunks (${t.succeeded} ok, ${t.failed} failed, ${t.running} running) | ` +
    `${timing(p, now)} | ${formatCount(t.rowsWritten)} rows, ${formatCount(t.recordsIngested)} records`
  );
}

/** What a log line says, without the clock: a new line is written when this changes. */
export function progressKey(p: BackfillProgress): string {
  const t = p.totals;
  return (
    `${phaseOf(p)}: chunks ${t.succeeded}/${t.chunks} done, ${t.failed} failed, ${t.cancelled} cancelled, ${t.running} running, ${t.pending} pending; ` +
    `${t.rowsWritten} rows, ${t.recordsIngested} records ingested`
  );
}

/** The phase, and while waiting what for: `waiting for backfill-... (days 2025-10-02..2025-10-04)`. */
function phaseOf(p: BackfillProgress): string {
  return p.waitingFor ? `${p.status} for ${p.waitingFor}` : p.status;
}

/** A log line when stderr is not a terminal. */
export function progressLine(p: BackfillProgress, now: number): string {
  return `${new Date(now).toISOString()} ${progressKey(p)}; ${timing(p, now)}`;
}

/** What happened to a chunk between two polls, as a line; undefined if nothing did. */
export function chunkEvent(before: ChunkSummary | undefined, now: ChunkSummary): string | undefined {
  const attempt = now.attempts > 1 ? ` (attempt ${now.attempts})` : '';
  if (before && before.status === now.status && before.attempts === now.attempts) return undefined;
  const took = now.startedAt && now.finishedAt ? ` in ${formatDuration(now.finishedAt - now.startedAt)}` : '';
  switch (now.status) {
    case 'running':
      return `chunk ${now.chunk.id} started${attempt}`;
    case 'succeeded':
      return `chunk ${now.chunk.id} succeeded${took}${attempt}: ${formatCount(now.rows ?? 0)} rows, ${formatCount(now.recordsWritten ?? 0)} records`;
    case 'failed':
      return `chunk ${now.chunk.id} FAILED${took}${attempt}${now.error ? ` at ${now.error.step}: ${now.error.message}` : ''}`;
    case 'cancelled':
      return `chunk ${now.chunk.id} cancelled${took}`;
    default:
      // pending again: queued by retry-failed
      return before ? `chunk ${now.chunk.id} queued again` : undefined;
  }
}
