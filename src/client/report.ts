/** Human-readable text of a backfill report and of progress, for the terminal. */
import type { BackfillProgress } from '../workflows/backfill';
import type { BackfillReport, ChunkResult } from '../common/results';

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
      `  total: ${t.succeeded}/${t.chunks} chunk(s) succeeded, ${t.failed} failed; ${t.rowsWritten} gold rows written; ` +
        `${t.recordsIngested} records ingested; ${t.failedRecords} records failed`,
    );
  }
  if (uiUrl) lines.push(`  Web UI: ${uiUrl}`);
  return lines.join('\n');
}

function formatChunk(c: ChunkResult): string[] {
  const out = [`  chunk ${c.chunk.id}: ${c.status}`];
  const m = c.spark?.manifest;
  if (m) {
    const rows = Object.entries(m.output_rows_per_dt).map(([dt, n]) => `${dt}=${n}`).join(' ');
    out.push(`    rows written: ${rows || 'none'}${m.skipped_partitions.length ? `; skipped (already present): ${m.skipped_partitions.join(' ')}` : ''}`);
    if (m.quarantined_rows || m.duplicates_removed) out.push(`    quarantined lines: ${m.quarantined_rows}; duplicates removed: ${m.duplicates_removed}`);
    if (m.coverage_gaps.length) out.push(`    coverage gaps (no bronze): ${m.coverage_gaps.join(' ')}`);
  }
  if (c.ingest) {
    out.push(
      `    records ingested: ${c.ingest.recordsWritten} into ${c.ingest.featureGroup}` +
        (c.ingest.failedRecords.length ? `, ${c.ingest.failedRecords.length} failed (${c.ingest.deadLetterLocation})` : '') +
        (c.ingest.retries ? `, ${c.ingest.retries} retries` : ''),
    );
  }
  if (c.validation) {
    const bad = c.validation.checks.filter((k) => !k.ok);
    out.push(`    validation: ${c.validation.ok ? 'passed' : 'FAILED'}${bad.length ? ` (${bad.map((k) => `${k.name}: ${k.detail}`).join('; ')})` : ''}`);
  }
  if (c.error) out.push(`    error at ${c.error.step}: ${c.error.message}`);
  return out;
}

export function formatProgressLine(p: BackfillProgress): string {
  const count = (s: string) => p.chunks.filter((c) => c.status === s).length;
  const rows = p.chunks.reduce((s, c) => s + (c.spark?.manifest.output_rows ?? 0), 0);
  const records = p.chunks.reduce((s, c) => s + (c.ingest?.recordsWritten ?? 0), 0);
  return `chunks ${count('succeeded')}/${p.total} done, ${count('failed')} failed, ${count('running')} running; ${rows} rows, ${records} records`;
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
