/** Chunk planning: the range split into consecutive chunks of chunkSizeDays, oldest first. Pure. */
import { addDays, daysBetweenInclusive } from './dates';

export interface ChunkSpec {
  /** Position in the plan, 0-based. */
  index: number;
  /** Stable name of the chunk, e.g. `2025-10-01_2025-10-03`. */
  id: string;
  startDate: string;
  endDate: string;
  days: number;
}

export function planChunks(startDate: string, endDate: string, chunkSizeDays: number): ChunkSpec[] {
  const total = daysBetweenInclusive(startDate, endDate);
  const chunks: ChunkSpec[] = [];
  for (let offset = 0; offset < total; offset += chunkSizeDays) {
    const start = addDays(startDate, offset);
    const days = Math.min(chunkSizeDays, total - offset);
    const end = addDays(start, days - 1);
    chunks.push({ index: chunks.length, id: `${start}_${end}`, startDate: start, endDate: end, days });
  }
  return chunks;
}
