/**
 * The fault-schedule soak: `npm run test:faults -- --schedules 40 --seed N [--verbose] [--keep]`.
 * Builds lib/ first (workers and the CLI run from it), runs the schedules, prints one line each and
 * `faults: S schedules, F faults injected, V invariant violations`; exits 1 on any violation.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runHarness } from '../test/faults/harness';
import { killEverything } from '../test/faults/processes';
import { ROOT } from '../test/support/temporal';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      schedules: { type: 'string', default: '40' },
      'max-faults': { type: 'string' },
      'no-build': { type: 'boolean' },
      verbose: { type: 'boolean' },
      keep: { type: 'boolean' },
    },
  });
  const seed = Number(values.seed);
  const schedules = Number(values.schedules);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed takes a whole number, got ${values.seed}`);
  if (!Number.isInteger(schedules) || schedules < 1)
    throw new Error(`--schedules takes a positive whole number, got ${values.schedules}`);
  if (!values['no-build'])
    execFileSync(path.join(ROOT, 'scripts', 'build.sh'), [], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  console.log(`faults: seed ${seed}, ${schedules} schedules (replay one: --seed <its seed> --schedules 1)`);
  const { summary } = await runHarness({
    seed,
    schedules,
    maxFaults: values['max-faults'] ? Number(values['max-faults']) : undefined,
    verbose: values.verbose,
    keep: values.keep,
  });
  return summary.violations > 0 ? 1 : 0;
}

// Stopped from outside: take the servers, workers and their Spark jobs along.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    killEverything();
    process.exit(130);
  });

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
