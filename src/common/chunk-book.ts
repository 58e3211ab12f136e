/**
 * The backfill's bookkeeping of its chunks, kept compact so that the continue-as-new carry, the
 * report and the progress query stay far below Temporal's payload limits at any range (7,305
 * daily chunks in 20 years): per-chunk states and attempts run-length encoded, succeeded chunks
 * folded into sums, failed and cancelled chunks in full (capped). A chunk's full result stays the
 * chunk workflow's own result. Pure and deterministic: it runs inside the workflow.
 */
import type { ChunkSpec } from './plan';
import type { BackfillTotals, ChunkRollup, ChunkStatus, ChunkSummary, DayList } from './results';

/** A backfill of at most this many chunks keeps every chunk's summary, as before (small payloads anyway). */
export const KEEP_ALL_LIMIT = 200;
/** Failed and cancelled chunks listed in full in the carry and the report; the rest are counted. */
export const LISTED_FAILURES_LIMIT = 100;
/** Finished chunks the progress query remembers in full for `--chunks recent` (and `backfill run`'s follow). */
export const RECENT_LIMIT = 100;
/** Days listed per rollup list (skipped, coverage gaps, foreign); the rest are counted. */
const DAYS_LISTED_LIMIT = 100;
/** Largest page of the progress query. */
export const MAX_PAGE_LIMIT = 200;
export const DEFAULT_PAGE_LIMIT = 50;

/** What the carry holds of the chunks (the plan itself is recomputed from the request). */
export interface CompactChunks {
  /** Run-length encoded states, plan order: `s*365,f*1,p*20` (see STATE_CODES). */
  states: string;
  /** Run-length encoded attempts, plan order: `1*365,2*1,0*20`. */
  attempts: string;
  /** Summaries kept: every chunk when the plan is small, else failed and cancelled ones (capped). */
  details: ChunkSummary[];
  rollup: ChunkRollup;
}

export type ChunkFilter = 'failed' | 'running' | 'all' | 'recent';
const FILTERS: readonly ChunkFilter[] = ['failed', 'running', 'all', 'recent'];

/** The progress query's argument: which chunks, and which page of them. */
export interface ChunkPageRequest {
  /** failed: failed and cancelled; running; all; recent: running and the last finished ones. @default 'all' */
  chunks?: ChunkFilter;
  /** @default 0 */
  offset?: number;
  /** At most MAX_PAGE_LIMIT. @default 50 */
  limit?: number;
}

export interface ChunkPage {
  chunks: ChunkFilter;
  offset: number;
  limit: number;
  /** Chunks that match the filter, over every page. */
  total: number;
}

const STATE_CODES: Record<ChunkStatus, string> = {
  pending: 'p',
  running: 'r',
  succeeded: 's',
  failed: 'f',
  cancelled: 'c',
};
const STATE_OF: Record<string, ChunkStatus> = Object.fromEntries(
  Object.entries(STATE_CODES).map(([k, v]) => [v, k as ChunkStatus]),
);

/** `['s','s','f']` -> `s*2,f*1`. */
export function encodeRuns(tokens: readonly string[]): string {
  const runs: string[] = [];
  for (let i = 0; i < tokens.length;) {
    let j = i;
    while (j < tokens.length && tokens[j] === tokens[i]) j++;
    runs.push(`${tokens[i]}*${j - i}`);
    i = j;
  }
  return runs.join(',');
}

/** The inverse of encodeRuns; a malformed run is an error naming it. */
export function decodeRuns(text: string): string[] {
  if (text === '') return [];
  const tokens: string[] = [];
  for (const run of text.split(',')) {
    const m = /^([^*,]+)\*(\d+)$/.exec(run);
    if (!m) throw new Error(`bad run-length encoded run: ${JSON.stringify(run)}`);
    for (let k = 0; k < Number(m[2]); k++) tokens.push(m[1]);
  }
  return tokens;
}

export function encodeStates(states: readonly ChunkStatus[]): string {
  return encodeRuns(states.map((s) => STATE_CODES[s]));
}

export function decodeStates(text: string): ChunkStatus[] {
  return decodeRuns(text).map((code) => {
    const state = STATE_OF[code];
    if (!state) throw new Error(`bad chunk state code: ${JSON.stringify(code)}`);
    return state;
  });
}

/** Runs of states as text: `1-365 succeeded, 366 failed, 367-7305 pending` (1-based plan positions). */
export function describeStates(text: string): string {
  const parts: string[] = [];
  let at = 1;
  for (const run of text ? text.split(',') : []) {
    const [code, n] = run.split('*');
    const count = Number(n);
    parts.push(`${count === 1 ? at : `${at}-${at + count - 1}`} ${STATE_OF[code] ?? code}`);
    at += count;
  }
  return parts.join(', ');
}

const emptyDays = (): DayList => ({ days: [], more: 0 });

function emptyRollup(): ChunkRollup {
  return {
    rowsWritten: 0,
    recordsIngested: 0,
    failedRecords: 0,
    possibleDuplicates: 0,
    quarantinedRows: 0,
    duplicatesRemoved: 0,
    validationPassed: 0,
    validationFailed: 0,
    skippedPartitions: emptyDays(),
    coverageGaps: emptyDays(),
    foreignDates: emptyDays(),
  };
}

function addDays(list: DayList, days: readonly string[] | undefined): void {
  for (const d of days ?? []) {
    if (list.days.length < DAYS_LISTED_LIMIT) list.days.push(d);
    else list.more += 1;
  }
}

/** Adds a chunk's summary to the sums (mutates `into`). */
function foldSummary(into: ChunkRollup, c: ChunkSummary): ChunkRollup {
  into.rowsWritten += c.rows ?? 0;
  into.recordsIngested += c.recordsWritten ?? 0;
  into.failedRecords += c.failedRecords ?? 0;
  into.possibleDuplicates += c.possibleDuplicates ?? 0;
  into.quarantinedRows += c.quarantinedRows ?? 0;
  into.duplicatesRemoved += c.duplicatesRemoved ?? 0;
  if (c.validationOk === true) into.validationPassed += 1;
  if (c.validationOk === false) into.validationFailed += 1;
  addDays(into.skippedPartitions, c.skippedPartitions);
  addDays(into.coverageGaps, c.coverageGaps);
  addDays(into.foreignDates, c.foreignDates);
  return into;
}

/** A rollup of a list of summaries plus the sums already folded. */
export function rollupOf(chunks: readonly ChunkSummary[], base?: ChunkRollup): ChunkRollup {
  const into = base ? (JSON.parse(JSON.stringify(base)) as ChunkRollup) : emptyRollup();
  for (const c of chunks) foldSummary(into, c);
  return into;
}

/** The plan-ordered summaries of a carry from before the compact carry (every chunk in full). */
export interface LegacyCarry {
  chunks: ChunkSummary[];
}

/**
 * The mutable chunk state of one run of the backfill workflow. Everything a payload holds comes
 * from toCompact, report and page, each bounded whatever the plan's length.
 */
export class ChunkBook {
  readonly states: ChunkStatus[];
  readonly attempts: number[];
  /** Kept summaries by position in the plan (onlyChunks plans skip chunk indexes): running chunks, failed and cancelled ones, and every one of a small plan. */
  private readonly details = new Map<number, ChunkSummary>();
  /** The last finished chunks whose summaries were folded, newest last. */
  private readonly recent = new Map<number, ChunkSummary>();
  private rollup: ChunkRollup;
  private readonly counts: Record<ChunkStatus, number> = {
    pending: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
  };
  /** No pending chunk before this index (a requeue moves it back). */
  private pendingFrom = 0;
  readonly keepAll: boolean;

  constructor(
    readonly specs: readonly ChunkSpec[],
    compact?: CompactChunks,
  ) {
    this.keepAll = specs.length <= KEEP_ALL_LIMIT;
    this.states = compact ? decodeStates(compact.states) : specs.map(() => 'pending');
    this.attempts = compact ? decodeRuns(compact.attempts).map(Number) : specs.map(() => 0);
    if (this.states.length !== specs.length || this.attempts.length !== specs.length) {
      throw new Error(
        `carried chunk states (${this.states.length}) and attempts (${this.attempts.length}) do not match the plan's ${specs.length} chunks`,
      );
    }
    this.rollup = compact ? rollupOf([], compact.rollup) : emptyRollup();
    const position = new Map(specs.map((c, i) => [c.id, i]));
    for (const d of compact?.details ?? []) {
      const at = position.get(d.chunk.id);
      if (at !== undefined) this.details.set(at, d);
    }
    for (const s of this.states) this.counts[s] += 1;
  }

  /** Reads a carry from before the compact carry: every chunk's summary in plan order. */
  static fromLegacy(carry: LegacyCarry): ChunkBook {
    const book = new ChunkBook(carry.chunks.map((c) => c.chunk));
    carry.chunks.forEach((c, i) => {
      // A large plan keeps no summary of a chunk that has not run (or was queued again).
      if (c.status === 'pending' && !book.keepAll) book.attempts[i] = c.attempts;
      else book.put(i, { ...c });
    });
    return book;
  }

  get size(): number {
    return this.specs.length;
  }

  count(status: ChunkStatus): number {
    return this.counts[status];
  }

  /** The first pending chunk in plan order, or undefined. */
  nextPending(): number | undefined {
    while (this.pendingFrom < this.size && this.states[this.pendingFrom] !== 'pending') this.pendingFrom++;
    return this.pendingFrom < this.size ? this.pendingFrom : undefined;
  }

  /** Marks a chunk running (one more attempt) and returns its live summary. */
  start(index: number, now: number): ChunkSummary {
    const attempts = this.attempts[index] + 1;
    this.attempts[index] = attempts;
    const summary: ChunkSummary = { chunk: this.specs[index], status: 'running', startedAt: now, attempts };
    this.put(index, summary);
    return summary;
  }

  /** Records a chunk's outcome; a succeeded chunk of a large plan is folded into the sums. */
  finish(index: number, summary: ChunkSummary): void {
    this.put(index, summary);
  }

  /** Failed and cancelled chunks become pending again; returns their ids. */
  requeueFailed(): string[] {
    const ids: string[] = [];
    this.states.forEach((s, i) => {
      if (s !== 'failed' && s !== 'cancelled') return;
      this.setState(i, 'pending');
      const kept = this.details.get(i);
      if (kept) this.details.set(i, { ...kept, status: 'pending', error: undefined });
      ids.push(this.specs[i].id);
      this.pendingFrom = Math.min(this.pendingFrom, i);
    });
    return ids;
  }

  /** A chunk's summary: the kept one, else what the book knows (state and attempts). */
  summary(index: number): ChunkSummary {
    return (
      this.details.get(index) ??
      this.recent.get(index) ?? { chunk: this.specs[index], status: this.states[index], attempts: this.attempts[index] }
    );
  }

  totals(): BackfillTotals {
    const r = this.rollupNow();
    return {
      chunks: this.size,
      succeeded: this.counts.succeeded,
      failed: this.counts.failed,
      cancelled: this.counts.cancelled,
      rowsWritten: r.rowsWritten,
      recordsIngested: r.recordsIngested,
      failedRecords: r.failedRecords,
      possibleDuplicates: r.possibleDuplicates,
    };
  }

  /** The sums over every chunk: folded ones and kept ones. */
  rollupNow(): ChunkRollup {
    return rollupOf([...this.details.values()], this.rollup);
  }

  /** The summaries a report or carry lists: every chunk of a small plan, else failed and cancelled ones (capped). */
  listed(): { chunks: ChunkSummary[]; notListed: number } {
    if (this.keepAll) return { chunks: this.specs.map((_, i) => this.summary(i)), notListed: 0 };
    const bad = [...this.details.keys()]
      .sort((a, b) => a - b)
      .map((i) => this.details.get(i)!)
      .filter((c) => c.status === 'failed' || c.status === 'cancelled');
    return { chunks: bad.slice(0, LISTED_FAILURES_LIMIT), notListed: Math.max(0, bad.length - LISTED_FAILURES_LIMIT) };
  }

  /** What the next run needs (no chunk runs when a run continues as new). */
  toCompact(): CompactChunks {
    const listed = this.listed().chunks;
    const kept = new Set(listed);
    // Summaries not carried are folded, so the sums stay whole.
    const rollup = rollupOf(
      [...this.details.values()].filter((c) => !kept.has(c)),
      this.rollup,
    );
    return {
      states: encodeStates(this.states),
      attempts: encodeRuns(this.attempts.map(String)),
      details: listed,
      rollup,
    };
  }

  /** One page of chunks, plan order (recent: newest last). */
  page(request: ChunkPageRequest = {}): { chunks: ChunkSummary[]; page: ChunkPage } {
    const filter = request.chunks ?? 'all';
    if (!FILTERS.includes(filter))
      throw new Error(`chunks must be one of ${FILTERS.join(', ')}, got ${JSON.stringify(filter)}`);
    const offset = Math.max(0, Math.floor(request.offset ?? 0));
    const limit = Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.floor(request.limit ?? DEFAULT_PAGE_LIMIT)));
    let indexes: number[];
    if (filter === 'all') {
      indexes = this.specs.slice(offset, offset + limit).map((_, i) => offset + i);
      return { chunks: indexes.map((i) => this.summary(i)), page: { chunks: filter, offset, limit, total: this.size } };
    }
    const wanted = (s: ChunkStatus) => (filter === 'failed' ? s === 'failed' || s === 'cancelled' : s === 'running');
    indexes = [];
    this.states.forEach((s, i) => wanted(s) && indexes.push(i));
    if (filter === 'recent') indexes.push(...[...this.recent.keys()].filter((i) => this.states[i] !== 'running'));
    return {
      chunks: indexes.slice(offset, offset + limit).map((i) => this.summary(i)),
      page: { chunks: filter, offset, limit, total: indexes.length },
    };
  }

  private put(index: number, summary: ChunkSummary): void {
    this.setState(index, summary.status);
    this.attempts[index] = summary.attempts;
    if (this.keepAll || summary.status !== 'succeeded') {
      this.details.set(index, summary);
      if (summary.status !== 'running' && summary.status !== 'pending') this.remember(index, summary);
      return;
    }
    this.details.delete(index);
    foldSummary(this.rollup, summary);
    this.remember(index, summary);
  }

  private remember(index: number, summary: ChunkSummary): void {
    this.recent.delete(index);
    this.recent.set(index, summary);
    if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.keys().next().value as number);
  }

  private setState(index: number, status: ChunkStatus): void {
    this.counts[this.states[index]] -= 1;
    this.states[index] = status;
    this.counts[status] += 1;
  }
}
