/**
 * What the harness prints: each schedule as JSON before it runs (so a crash still leaves it), one
 * line per schedule after, the seed and schedule of every violation, and the summary line.
 */
import type { ScheduleResult } from './runner';
import type { Schedule } from './schedule';

export type Print = (line: string) => void;

export function printSchedule(print: Print, index: number, schedule: Schedule): void {
  print(`faults: schedule ${index} seed ${schedule.seed}: ${JSON.stringify(schedule)}`);
}

export function printResult(print: Print, index: number, r: ScheduleResult, verbose: boolean): void {
  const v = r.violations.length;
  print(
    `faults: schedule ${index} seed ${r.schedule.seed}: ${r.faults} faults (of ${r.scheduledFaults} drawn), ${v} violations, ${r.seconds} s` +
      (r.workDir ? ` (kept ${r.workDir})` : ''),
  );
  if (verbose || v) for (const note of r.notes) print(`  note: ${note}`);
  if (!v) return;
  for (const line of r.violations) print(`  VIOLATION seed ${r.schedule.seed}: ${line}`);
  print(`  replay: npm run test:faults -- --seed ${r.schedule.seed} --schedules 1`);
  print(`  schedule: ${JSON.stringify(r.schedule)}`);
}

export interface Summary {
  schedules: number;
  faults: number;
  violations: number;
  /** Seconds per schedule: min, median, max. */
  seconds: [number, number, number];
}

export function summarize(results: ScheduleResult[]): Summary {
  return {
    schedules: results.length,
    faults: results.reduce((s, r) => s + r.faults, 0),
    violations: results.reduce((s, r) => s + r.violations.length, 0),
    seconds: spread(results.map((r) => r.seconds)),
  };
}

function spread(values: number[]): [number, number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? [sorted[0], sorted[Math.floor(sorted.length / 2)], sorted.at(-1)!] : [0, 0, 0];
}

/** Printed before the summary line: the figures docs/benchmarks.md records. */
export function figuresLine(s: Summary): string {
  return `faults: seconds per schedule min ${s.seconds[0]}, median ${s.seconds[1]}, max ${s.seconds[2]}`;
}

export function summaryLine(s: Summary): string {
  return `faults: ${s.schedules} schedules, ${s.faults} faults injected, ${s.violations} invariant violations`;
}
