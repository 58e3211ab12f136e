/** UTC calendar-date helpers on `YYYY-MM-DD` strings. Pure: safe in workflows. */

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** Parses a strict `YYYY-MM-DD` (a real calendar day) into epoch days, or returns undefined. */
export function toEpochDay(date: string): number | undefined {
  const m = ISO_DATE.exec(date);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Date.UTC rolls 2025-02-30 over to March; a round trip catches that.
  return fromEpochDay(ms / DAY_MS) === date ? ms / DAY_MS : undefined;
}

export function fromEpochDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return fromEpochDay(mustParse(date) + days);
}

export function daysBetweenInclusive(start: string, end: string): number {
  return mustParse(end) - mustParse(start) + 1;
}

export function dateRange(start: string, end: string): string[] {
  const first = mustParse(start);
  return Array.from({ length: mustParse(end) - first + 1 }, (_, i) => fromEpochDay(first + i));
}

function mustParse(date: string): number {
  const day = toEpochDay(date);
  if (day === undefined) throw new Error(`not a YYYY-MM-DD date: ${date}`);
  return day;
}
