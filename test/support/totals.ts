/**
 * A report's totals computed straight from its chunk summaries, for report fixtures. The workflow
 * keeps its totals in ChunkBook (folded as chunks finish); this is the plain sum to compare with.
 */
import type { BackfillTotals, ChunkSummary } from '../../src/common/results';

export function totalsOf(chunks: ChunkSummary[]): BackfillTotals {
  const sum = (f: (c: ChunkSummary) => number | undefined) => chunks.reduce((s, c) => s + (f(c) ?? 0), 0);
  return {
    chunks: chunks.length,
    succeeded: chunks.filter((c) => c.status === 'succeeded').length,
    failed: chunks.filter((c) => c.status === 'failed').length,
    cancelled: chunks.filter((c) => c.status === 'cancelled').length,
    rowsWritten: sum((c) => c.rows),
    recordsIngested: sum((c) => c.recordsWritten),
    failedRecords: sum((c) => c.failedRecords),
    possibleDuplicates: sum((c) => c.possibleDuplicates),
  };
}
