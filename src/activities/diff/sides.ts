/**
 * The two sides `backfill diff` compares, resolved day by day from the ledger to the data files
 * readers use: a version's current gold (the commit's files, or foreign gold), or the gold an
 * overwrite replaced (the commit's `previous_location`, which the catalog keeps for rollback).
 */
import type { BackfillRequest } from '../../common/input';
import type { Lake } from '../backends';
import { readDayState, type DayState } from '../ledger/records';

/** `current`: the version's committed gold; `previous`: the gold the last overwrite replaced. */
export type SideKind = 'current' | 'previous';

export interface SideChoice {
  /** Request naming the version's lake paths (bucket, prefixes, featureVersion). */
  request: BackfillRequest;
  kind: SideKind;
}

/** A side as the Spark job reads it (spark_jobs/card_features/diff_job.py). */
export interface ResolvedSide {
  /** e.g. `v1`, or `v1 (before overwrite)`. */
  label: string;
  /** Days with gold -> its data files (a day committed with no rows: an empty list). */
  days: Record<string, string[]>;
  /** Days the side has no gold for, with why. */
  missing: { dt: string; reason: string }[];
}

export function sideLabel(choice: SideChoice): string {
  return choice.kind === 'current'
    ? choice.request.featureVersion
    : `${choice.request.featureVersion} (before overwrite)`;
}

export async function resolveSide(lake: Lake, choice: SideChoice, days: string[]): Promise<ResolvedSide> {
  const side: ResolvedSide = { label: sideLabel(choice), days: {}, missing: [] };
  for (const dt of days) {
    const state = await readDayState(lake, choice.request, dt);
    const found = choice.kind === 'current' ? currentFiles(state) : await previousFiles(lake, state);
    if (typeof found === 'string') side.missing.push({ dt, reason: found });
    else side.days[dt] = found;
  }
  return side;
}

/** The day's current gold files, or why there are none. */
function currentFiles(state: DayState): string[] | string {
  if (state.commit) return state.commit.rows > 0 ? state.commit.files : [];
  if (state.foreignFiles.length > 0) return state.foreignFiles;
  return 'no gold';
}

/** The files of the gold the day's commit replaced, or why there are none. */
async function previousFiles(lake: Lake, state: DayState): Promise<string[] | string> {
  if (!state.commit) return state.foreignFiles.length > 0 ? 'foreign gold, never overwritten' : 'no gold';
  const previous = state.commit.previous_location;
  if (!previous) return 'no earlier gold (the day was built once)';
  const files = (await lake.list(previous)).map((f) => f.uri).filter((u) => u.endsWith('.parquet'));
  // The catalog deletes all but the one run before; a Glue crawler catalog deletes that one too.
  return files.length > 0 ? files : `earlier gold ${previous} is no longer kept`;
}
