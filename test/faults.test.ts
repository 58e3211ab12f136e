/**
 * The fault-schedule harness in CI: a few short schedules with fixed seeds on the real local stack
 * (dev server, worker processes killed and restarted, spark-submit). The soak is
 * `npm run test:faults -- --schedules 40 --seed N` (docs/development.md, "Fault schedules").
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { runHarness } from './faults/harness';
import { ROOT } from './support/temporal';

/**
 * Seeds whose short schedules (one-day backfills, one fault) cover the meeting points: 30, two feature
 * groups of one version on one day, the second started while the first's Spark job runs, and kill -9 of
 * the worker running Spark; 39, a cancel while the API loop sends.
 */
const SEEDS = [30, 39];

describe('fault schedules (dev server, worker processes, real spark-submit)', function () {
  before(() => {
    // Workers and the CLI run from lib/, as deployed: build it (incremental, as scripts/setup.sh does).
    execFileSync(path.join(ROOT, 'scripts', 'build.sh'), [], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: every invariant holds`, async function () {
      // The deadline, then 3 minutes for a cancelled backfill to end, the workers' drain and the checks.
      this.timeout(900_000);
      const lines: string[] = [];
      const { summary, results } = await runHarness({
        seed,
        schedules: 1,
        eventsPerDay: 500,
        maxRangeDays: 1,
        maxBackfills: 2,
        maxFaults: 1,
        deadlineMs: 180_000, // above a schedule under CI load (about 2 min)
        momentTimeoutMs: 30_000,
        print: (line) => lines.push(line),
      });
      console.log(
        lines
          .filter((l) => !l.startsWith('  note'))
          .map((l) => `    ${l}`)
          .join('\n'),
      );
      assert.equal(summary.violations, 0, results.flatMap((r) => r.violations).join('\n'));
    });
  }
});
