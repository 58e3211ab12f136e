/**
 * The `backfill` command (bin/backfill.js calls main). One module per subcommand in commands/;
 * this file dispatches and turns usage errors into exit code 2.
 */
import { cancelCommand } from './commands/cancel';
import { checkCommand } from './commands/check';
import { deployJobCommand } from './commands/deploy-job';
import { diffCommand } from './commands/diff';
import { verifyCommand } from './commands/verify';
import { lineageCommand } from './commands/lineage';
import { listCommand } from './commands/list';
import { pauseCommand, resumeCommand } from './commands/pause-resume';
import { retryFailedCommand } from './commands/retry-failed';
import { runCommand } from './commands/run';
import { setConcurrencyCommand } from './commands/set-concurrency';
import { statusCommand } from './commands/status';
import { EXIT, processIo, type CliDeps, type Io } from './io';
import { UsageError } from './usage';

export const HELP = `Usage: backfill <command> [options]

Recompute ML features for a date range and publish them, as a durable Temporal workflow
(replaces the Step Functions pipeline and run_backfill.py).

Commands:
  run              start a backfill and follow it to its report (also --dry-run, --direct-emr)
  status           progress of a running backfill, or the report of an ended one
  list             recent backfills with their status
  pause            stop starting new chunks (running ones finish)
  resume           start chunks again after pause
  cancel           cancel a running backfill; it reports what was done
  retry-failed     run the failed chunks of a backfill again
  set-concurrency  change how many chunks run at once
  deploy-job       package the Spark job and upload it to the code bucket (AWS)
  check            days of a version that need building again (never built, bronze changed, definition changed)
  lineage          what one gold day was built from (bronze files, code, fingerprint, job run, Spark settings)
  verify           publication receipt: the ledger against the offline and online stores; exit 1 on a difference
  diff             compare two versions' gold (or one before/after an overwrite) over a range; gate with exit 3

Run backfill <command> --help for its options. Commands acting on one backfill take its workflow
id, or the --start-date/--end-date/--feature-version/--feature-group flags it was started with.

Temporal connection: TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE (the Temporal SDK's environment configuration).
Exit codes: 0 success, 1 backfill failed or partly failed, 2 bad usage.`;

const COMMANDS: Record<string, (argv: string[], io: Io, deps: CliDeps) => Promise<number>> = {
  run: runCommand,
  status: statusCommand,
  list: listCommand,
  pause: pauseCommand,
  resume: resumeCommand,
  cancel: cancelCommand,
  'retry-failed': retryFailedCommand,
  'set-concurrency': setConcurrencyCommand,
  'deploy-job': deployJobCommand,
  check: checkCommand,
  lineage: lineageCommand,
  diff: diffCommand,
  verify: verifyCommand,
};

export async function main(argv: string[], io: Io = processIo, deps: CliDeps = {}): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      if (command === undefined) {
        io.err(HELP);
        return EXIT.usage;
      }
      io.out(HELP);
      return EXIT.ok;
    }
    const run = COMMANDS[command];
    if (!run)
      throw new UsageError(
        `unknown command "${command}"; commands: ${Object.keys(COMMANDS).join(', ')} (backfill --help)`,
      );
    return await run(rest, io, deps);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`backfill: ${err.message}`);
      return EXIT.usage;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`backfill: ${(err as Error).stack ?? String(err)}`);
      process.exit(EXIT.failed);
    },
  );
}
