/**
 * Drawing a fault schedule from a seed: the lake, the backfills (sub-ranges of the sample days,
 * chunk size, concurrency, overwrite, publication path, target stores, one of two feature groups of
 * one version) and the steps that start them and inject faults, each at an observed moment.
 */
import { Prng } from './prng';

export const VERSION = 'v1';
export const GROUPS = ['faults_group_a', 'faults_group_b'] as const;

export interface BackfillSpec {
  group: string;
  startDate: string;
  endDate: string;
  chunkSizeDays: number;
  maxConcurrentChunks: number;
  overwrite: boolean;
  publishWith?: 'spark' | 'api';
  targetStores?: 'offline' | 'online' | 'both';
  waitForOverlap: boolean;
}

/**
 * What a step waits for before acting: a Spark job running, the Spark job publishing to the offline
 * store, API ingestion sending, a gold commit the catalog has not caught up with, any of them, or
 * nothing ('now'). `ended`: backfill `backfill` has reached a terminal state.
 */
export type Moment = 'now' | 'spark' | 'publish' | 'ingest' | 'catalog' | 'any' | 'ended';
export const FAULT_MOMENTS: Moment[] = ['spark', 'publish', 'ingest', 'catalog', 'any'];

export type Op = 'start' | 'kill9' | 'sigterm' | 'restart-server' | 'cancel' | 'retry-failed';
export const FAULT_OPS: Op[] = ['kill9', 'kill9', 'kill9', 'sigterm', 'restart-server', 'cancel', 'retry-failed'];

export interface Step {
  op: Op;
  /** The backfill a start, cancel or retry-failed acts on (index into `backfills`). */
  backfill?: number;
  at: Moment;
  /** Drawn delay after the moment is observed, in ms. */
  delayMs: number;
}

export interface Schedule {
  seed: number;
  days: string[];
  eventsPerDay: number;
  cards: number;
  workers: number;
  backfills: BackfillSpec[];
  steps: Step[];
}

export interface DrawOptions {
  /** Sample days in the lake. @default 10 */
  days?: number;
  /** @default 2000 */
  eventsPerDay?: number;
  /** Longest backfill range, in days (keeps a schedule to a minute or two). @default 4 */
  maxRangeDays?: number;
  /** Faults per schedule, at most. @default 4 */
  maxFaults?: number;
  /** Backfills per schedule, at most. @default 3 */
  maxBackfills?: number;
}

function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** Sample days ending well before today, so no range is refused for late events still to come. */
export function sampleDays(count: number, today = new Date()): string[] {
  const first = addDays(today.toISOString().slice(0, 10), -(count + 15));
  return Array.from({ length: count }, (_, i) => addDays(first, i));
}

function drawBackfill(rng: Prng, days: string[], maxRange: number): BackfillSpec {
  const length = rng.int(1, Math.min(maxRange, days.length));
  const first = rng.int(0, days.length - length);
  return {
    group: rng.pick(GROUPS),
    startDate: days[first],
    endDate: days[first + length - 1],
    chunkSizeDays: rng.int(1, 3),
    maxConcurrentChunks: rng.int(1, 4),
    overwrite: rng.chance(0.35),
    publishWith: rng.pick([undefined, 'spark', 'api'] as const),
    targetStores: rng.pick([undefined, 'offline', 'online', 'both'] as const),
    waitForOverlap: rng.chance(0.5),
  };
}

function drawFault(rng: Prng, backfills: number): Step {
  const op = rng.pick(FAULT_OPS);
  const backfill = rng.int(0, backfills - 1);
  if (op === 'retry-failed')
    return { op, backfill, at: rng.pick(['ended', 'spark', 'ingest'] as const), delayMs: rng.int(0, 1500) };
  if (op === 'cancel') return { op, backfill, at: rng.pick(FAULT_MOMENTS), delayMs: rng.int(0, 3000) };
  return { op, at: rng.pick(FAULT_MOMENTS), delayMs: rng.int(0, 3000) };
}

export function drawSchedule(seed: number, opts: DrawOptions = {}, today = new Date()): Schedule {
  const rng = new Prng(seed);
  const days = sampleDays(opts.days ?? 10, today);
  const backfills = Array.from({ length: rng.int(1, opts.maxBackfills ?? 3) }, () =>
    drawBackfill(rng, days, opts.maxRangeDays ?? 4),
  );
  const steps: Step[] = [{ op: 'start', backfill: 0, at: 'now', delayMs: 0 }];
  // Later backfills start while earlier ones run (overlapping starts), faults in between.
  const faults = Array.from({ length: rng.int(1, opts.maxFaults ?? 4) }, () => drawFault(rng, backfills.length));
  const starts: Step[] = backfills.slice(1).map((_, i) => ({
    op: 'start',
    backfill: i + 1,
    at: rng.pick(['now', 'spark', 'ingest'] as const),
    delayMs: rng.int(0, 2000),
  }));
  const rest = [...faults, ...starts];
  // A seeded shuffle: the order of starts and faults is part of the schedule.
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  // A step may act on a backfill only once it has been started.
  const started = new Set([0]);
  for (const step of rest) {
    if (step.op === 'start') started.add(step.backfill!);
    else if (step.backfill !== undefined && !started.has(step.backfill)) step.backfill = 0;
    steps.push(step);
  }
  return {
    seed,
    days,
    eventsPerDay: opts.eventsPerDay ?? 2000,
    cards: 60,
    workers: rng.int(1, 2),
    backfills,
    steps,
  };
}

/** How many faults (kills, SIGTERMs, server restarts, cancels, retries) a schedule injects. */
export function faultCount(schedule: Schedule): number {
  return schedule.steps.filter((s) => s.op !== 'start').length;
}
