/** Human-readable text of a backfill report and of progress, for the terminal. */
import type { BackfillReport, ChunkSummary } from '../common/results';
import type { BackfillProgress } from '../workflows/api';

export function formatReport(report: BackfillReport, uiUrl?: string): string {
  const lines: string[] = [];
  lines.push(`Backfill ${report.workflowId}: ${report.status.toUpperCase()}`);
  lines.push(`  ${report.featureGroup} (${report.featureVersion}), ${report.startDate} .. ${report.endDate}`);
  if (report.dryRun) {
    const d = report.dryRun;
    lines.push(`  plan: ${d.chunks.length} chunk(s): ${d.chunks.map((c) => c.id).join(', ')}`);
    lines.push(`  bronze present: ${Object.entries(d.bronzePresent).map(([dt, b]) => `${dt} (${formatBytes(b)})`).join(', ') || 'none'}`);
    lines.push(`  bronze missing: ${d.bronzeMissing.join(', ') || 'none'}`);
    lines.push(`  would skip (gold exists): ${d.wouldSkip.join(', ') || 'none'}`);
    lines.push(`  would overwrite: ${d.wouldOverwrite.join(', ') || 'none'}`);
  }
  for (const c of report.chunks) lines.push(...formatChunk(c));
  const t = report.totals;
  if (!report.dryRun) {
    lines.push(
      `  total: ${t.succeeded}/${t.chunks} chunk(s) succeeded, ${t.failed} failed, ${t.cancelled} cancelled in ${formatDuration(report.finishedAt - report.startedAt)}; ${t.rowsWritten} gold rows written; ` +
        `${t.recordsIngested} records ingested; ${t.failedRecords} records failed`,
    );
  }
  if (uiUrl) lines.push(`  Web UI: ${uiUrl}`);
  return lines.join('\n');
}

function formatChunk(c: ChunkSummary): string[] {
  const took = c.startedAt && c.finishedAt ? ` in ${formatDuration(c.finishedAt - c.startedAt)}` : '';
  const out = [`  chunk ${c.chunk.id}: ${c.status}${took}${c.attempts > 1 ? ` (attempt ${c.attempts})` : ''}`];
  if (c.rowsPerDt) {
    const rows = Object.entries(c.rowsPerDt).map(([dt, n]) => `${dt}=${n}`).join(' ');
    const skipped = c.skippedPartitions?.length ? `; skipped (already present): ${c.skippedPartitions.join(' ')}` : '';
    out.push(`    rows written: ${rows || 'none'}${skipped}`);
  }
  if (c.quarantinedRows || c.duplicatesRemoved) out.push(`    quarantined lines: ${c.quarantinedRows ?? 0}; duplicates removed: ${c.duplicatesRemoved ?? 0}`);
  if (c.coverageGaps?.length) out.push(`    coverage gaps (no bronze): ${c.coverageGaps.join(' ')}`);
  if (c.recordsWritten !== undefined) {
    out.push(`    records ingested: ${c.recordsWritten}${c.failedRecords ? `, ${c.failedRecords} failed (${c.deadLetterLocation})` : ''}`);
  }
  if (c.validationOk !== undefined) {
    out.push(`    validation: ${c.validationOk ? 'passed' : 'FAILED'}${c.validationProblems?.length ? ` (${c.validationProblems.join('; ')})` : ''}`);
  }
  if (c.error) out.push(`    error at ${c.error.step}: ${c.error.message}`);
  return out;
}

export function formatProgressLine(p: BackfillProgress): string {
  const t = p.totals;
  return `${p.status}: chunks ${t.succeeded}/${t.chunks} done, ${t.failed} failed, ${t.running} running; ${t.rowsWritten} rows, ${t.recordsIngested} records`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
