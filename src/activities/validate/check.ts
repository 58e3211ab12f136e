/**
 * Chunk validation, read back from the lake and the ledger rather than trusted from the steps:
 * each day's current gold has the rows its commit says and no event twice, every day has bronze,
 * and the ledger says every row of the current gold reached the feature store.
 */
import type { BackfillRequest } from '../../common/input';
import { dateRange } from '../../common/dates';
import type { ChunkSpec } from '../../common/plan';
import type { SparkJobResult, ValidationCheck, ValidationResult } from '../../common/results';
import type { Lake } from '../backends';
import { deadLetterUri, publicationOf, readDayState, type DayState } from '../ledger/records';

export interface ValidateChunkInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  spark: SparkJobResult;
}

interface DayCheck {
  state: DayState;
  rows: number;
  duplicates: string[];
}

export async function validateChunk(
  lake: Lake,
  { request, chunk, spark }: ValidateChunkInput,
): Promise<ValidationResult> {
  const days: DayCheck[] = [];
  for (const dt of dateRange(chunk.startDate, chunk.endDate))
    days.push(await readBack(lake, await readDayState(lake, request, dt)));
  const goldRowsPerDt = Object.fromEntries(days.map((d) => [d.state.dt, d.rows]));
  const checks: ValidationCheck[] = [rowCounts(days), duplicates(days), coverage(spark), ...publication(request, days)];
  return { ok: checks.every((c) => c.ok || c.severity === 'warning'), checks, goldRowsPerDt };
}

/** Reads the day's current gold files (the commit's, or foreign ones) and counts rows and repeated events. */
async function readBack(lake: Lake, state: DayState): Promise<DayCheck> {
  const files = state.commit ? state.commit.files : state.foreignFiles;
  const ids = new Set<string>();
  const duplicates: string[] = [];
  let rows = 0;
  for (const f of files) {
    for (const row of await lake.readParquet(f)) {
      rows += 1;
      const id = String(row.event_id);
      if (ids.has(id)) duplicates.push(`${state.dt}:${id}`);
      ids.add(id);
    }
  }
  return { state, rows, duplicates };
}

function rowCounts(days: DayCheck[]): ValidationCheck {
  const bad = days.filter((d) => d.state.commit && d.state.commit.rows !== d.rows);
  return {
    name: 'row_counts',
    ok: bad.length === 0,
    severity: 'error',
    detail:
      bad.length === 0
        ? `gold rows match the ledger's commits for ${days.filter((d) => d.state.commit).length} day(s)`
        : bad.map((d) => `${d.state.dt}: commit ${d.state.commit!.rows}, gold ${d.rows}`).join('; '),
  };
}

function duplicates(days: DayCheck[]): ValidationCheck {
  const all = days.flatMap((d) => d.duplicates);
  return {
    name: 'duplicates',
    ok: all.length === 0,
    severity: 'error',
    detail:
      all.length === 0
        ? 'no event_id appears twice'
        : `${all.length} duplicate event ids, e.g. ${all.slice(0, 5).join(', ')}`,
  };
}

function coverage(spark: SparkJobResult): ValidationCheck {
  const gaps = spark.manifest.coverage_gaps;
  return {
    name: 'coverage',
    ok: gaps.length === 0,
    severity: 'warning',
    detail:
      gaps.length === 0
        ? 'bronze present for every day'
        : `no bronze for ${gaps.join(', ')}: those days have no new features`,
  };
}

/** The ledger's publication record of each day's current gold against the gold itself. */
function publication(request: BackfillRequest, days: DayCheck[]): ValidationCheck[] {
  const unpublished: string[] = [];
  const short: string[] = [];
  const failed: string[] = [];
  let written = 0;
  let expected = 0;
  for (const { state, rows } of days) {
    if (!state.commit || rows === 0) continue; // foreign gold counts as published by whoever wrote it
    const pub = publicationOf(state);
    expected += rows;
    if (!pub) {
      unpublished.push(state.dt);
      continue;
    }
    written += pub.records_written;
    if (pub.status !== 'done' || pub.records_written + pub.records_failed !== rows)
      short.push(`${state.dt} (${pub.records_written} of ${rows})`);
    if (pub.records_failed > 0)
      failed.push(`${state.dt}: ${pub.records_failed} (see ${deadLetterUri(request, state.dt)})`);
  }
  const foreign = days.filter((d) => !d.state.commit && d.rows > 0).map((d) => d.state.dt);
  return [
    {
      name: 'ingestion',
      ok: short.length === 0 && failed.length === 0,
      severity: 'error',
      detail:
        `${written} of ${expected} gold rows in ${request.featureGroup}` +
        (short.length ? `; incomplete: ${short.join(', ')}` : '') +
        (failed.length ? `; refused by the store: ${failed.join('; ')}` : ''),
    },
    {
      name: 'published',
      ok: unpublished.length === 0,
      severity: 'error',
      detail:
        unpublished.length === 0
          ? 'every day with gold rows is in the feature store'
          : `gold never sent to ${request.featureGroup}: ${unpublished.join(', ')}`,
    },
    {
      name: 'foreign_gold',
      ok: foreign.length === 0,
      severity: 'warning',
      detail:
        foreign.length === 0
          ? 'every day with gold is in the ledger'
          : `gold written without a ledger, treated as published and not sent (--republish sends it once): ${foreign.join(', ')}`,
    },
  ];
}
