/**
 * Chunk validation, read back from the lake rather than trusted from the job: gold row counts
 * agree with the manifest, no event appears twice, every day has bronze, and every gold row of
 * the days sent reached the feature store.
 */
import type { BackfillRequest } from '../common/input';
import { dateRange } from '../common/dates';
import type { ChunkSpec } from '../common/plan';
import type { ChunkManifest, IngestResult, ValidationCheck, ValidationResult } from '../common/results';
import type { Lake } from './backends';
import { goldPartition } from './lake-paths';

export async function validateChunk(
  lake: Lake,
  request: BackfillRequest,
  chunk: ChunkSpec,
  manifest: ChunkManifest,
  ingest: IngestResult,
): Promise<ValidationResult> {
  const checks: ValidationCheck[] = [];
  const goldRowsPerDt: Record<string, number> = {};
  const duplicates: string[] = [];
  for (const dt of dateRange(chunk.startDate, chunk.endDate)) {
    const ids = new Set<string>();
    let rows = 0;
    for (const f of await lake.list(goldPartition(request, dt))) {
      if (!f.uri.endsWith('.parquet')) continue;
      for (const row of await lake.readParquet(f.uri)) {
        rows += 1;
        const id = String(row.event_id);
        if (ids.has(id)) duplicates.push(`${dt}:${id}`);
        ids.add(id);
      }
    }
    goldRowsPerDt[dt] = rows;
  }

  const mismatched = Object.entries(manifest.output_rows_per_dt).filter(([dt, n]) => goldRowsPerDt[dt] !== n);
  checks.push({
    name: 'row_counts',
    ok: mismatched.length === 0,
    severity: 'error',
    detail:
      mismatched.length === 0
        ? `gold rows match the job's manifest for ${Object.keys(manifest.output_rows_per_dt).length} written day(s)`
        : mismatched.map(([dt, n]) => `${dt}: manifest ${n}, gold ${goldRowsPerDt[dt]}`).join('; '),
  });
  checks.push({
    name: 'duplicates',
    ok: duplicates.length === 0,
    severity: 'error',
    detail: duplicates.length === 0 ? 'no event_id appears twice' : `${duplicates.length} duplicate event ids, e.g. ${duplicates.slice(0, 5).join(', ')}`,
  });
  checks.push({
    name: 'coverage',
    ok: manifest.coverage_gaps.length === 0,
    severity: 'warning',
    detail:
      manifest.coverage_gaps.length === 0
        ? 'bronze present for every day'
        : `no bronze for ${manifest.coverage_gaps.join(', ')}: those days have no new features`,
  });
  const expected = ingest.ingestedDates.reduce((sum, dt) => sum + (goldRowsPerDt[dt] ?? 0), 0);
  const delivered = ingest.recordsWritten + ingest.failedRecords.length;
  checks.push({
    name: 'ingestion',
    ok: delivered === expected && ingest.failedRecords.length === 0,
    severity: 'error',
    detail:
      `${ingest.recordsWritten} of ${expected} gold rows written to ${ingest.featureGroup}` +
      (ingest.failedRecords.length ? `, ${ingest.failedRecords.length} failed (see ${ingest.deadLetterLocation})` : ''),
  });
  const published = new Set([...ingest.ingestedDates, ...ingest.alreadyIngestedDates]);
  const unpublished = Object.entries(goldRowsPerDt).filter(([dt, n]) => n > 0 && !published.has(dt)).map(([dt]) => dt);
  checks.push({
    name: 'published',
    ok: unpublished.length === 0,
    severity: 'error',
    detail: unpublished.length === 0 ? 'every day with gold rows is in the feature store' : `gold never sent to ${ingest.featureGroup}: ${unpublished.join(', ')}`,
  });
  return { ok: checks.every((c) => c.ok || c.severity === 'warning'), checks, goldRowsPerDt };
}
