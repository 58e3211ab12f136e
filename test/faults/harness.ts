/**
 * The randomized fault-schedule harness: schedules drawn from consecutive seeds, each run on the
 * real local stack and checked (docs/development.md, "Fault schedules").
 */
import { scheduleSeed } from './prng';
import { figuresLine, printResult, printSchedule, summarize, summaryLine, type Print, type Summary } from './report';
import { runSchedule, type RunOptions, type ScheduleResult } from './runner';
import { drawSchedule, type DrawOptions } from './schedule';

export interface HarnessOptions extends RunOptions, DrawOptions {
  seed: number;
  schedules: number;
  verbose?: boolean;
  print?: Print;
}

export async function runHarness(opts: HarnessOptions): Promise<{ summary: Summary; results: ScheduleResult[] }> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const results: ScheduleResult[] = [];
  for (let i = 0; i < opts.schedules; i++) {
    const schedule = drawSchedule(scheduleSeed(opts.seed, i), opts);
    printSchedule(print, i, schedule);
    const result = await runSchedule(schedule, opts);
    printResult(print, i, result, opts.verbose ?? false);
    results.push(result);
  }
  const summary = summarize(results);
  print(figuresLine(summary));
  print(summaryLine(summary));
  return { summary, results };
}
