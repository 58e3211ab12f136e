/**
 * `backfill check`: the days of a version that need building again (never built, bronze changed
 * since the build, another definition fingerprint), read from the ledger and the lake directly: no
 * Temporal server or worker. `backfill run --only-stale` rebuilds exactly these days.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createAwsClientsFromEnv } from '../../activities/aws';
import { S3Lake } from '../../activities/aws/s3-lake';
import type { Lake } from '../../activities/backends';
import type { Fingerprints } from '../../activities/ledger/definition-guard';
import { currentFingerprints } from '../../activities/ledger/fingerprint';
import { lakeRoot } from '../../activities/lake-paths';
import { LocalLake } from '../../activities/local/lake';
import { checkDays, type DayCheck } from '../../activities/ledger/staleness';
import { dateRange } from '../../common/dates';
import { InputError, validateInput, type BackfillRequest } from '../../common/input';
import { EXIT, type CliDeps, type Io } from '../io';
import { dateFlag, parseFlags, usageOfInputError, UsageError, wantsHelp } from '../usage';

const CHECK_HELP = `Usage: backfill check --feature-version VER --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--bucket BUCKET|DIR] [--json]

List the days of the range that need building again, from the ledger and the lake (no Temporal server):
  never_built          no gold commit for the day
  bronze_changed       bronze the day's windows read changed since it was built (files added,
                       removed, or with another size, ETag or modification time)
  fingerprint_changed  built with another definition fingerprint (definitions.json entry or
                       transform code) than the current one
Days committed without lineage (before it was recorded, or adopted foreign gold) are shown as
no_lineage and not counted stale. backfill run --only-stale rebuilds exactly the stale days.

Options:
  --feature-version VER   default v1
  --feature-group NAME    default rt_card_features_<version> (only used to name the lake paths)
  --start-date, --end-date  the days to check (required)
  --bucket BUCKET|DIR     the lake: S3 bucket (or s3:// URI; AWS_REGION and credentials from the
                          environment), or an existing local directory (default $BACKFILL_BUCKET)
  --json                  the days as JSON on stdout
Exit codes: 0 nothing stale, 1 some days stale, 2 bad usage.`;

const FLAGS = {
  'feature-version': { type: 'string' },
  'feature-group': { type: 'string' },
  'start-date': { type: 'string' },
  'end-date': { type: 'string' },
  bucket: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function checkCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(CHECK_HELP);
    return EXIT.ok;
  }
  const { values } = parseFlags('check', argv, FLAGS);
  for (const flag of ['start-date', 'end-date'] as const) {
    if (values[flag] === undefined) throw new UsageError(`--${flag} is required; see backfill check --help`);
  }
  const request = ledgerRequest({ ...values, date: undefined });
  const checks = await staleDays(lakeOf(request.bucket, deps), request, currentFingerprints(request.featureVersion));
  const stale = checks.filter((c) => c.stale);
  if (values.json)
    io.out(
      JSON.stringify({ featureVersion: request.featureVersion, stale: stale.map((c) => c.dt), days: checks }, null, 2),
    );
  else io.out(formatChecks(request, checks));
  return stale.length > 0 ? EXIT.failed : EXIT.ok;
}

/** Every day of the request's range, checked (src/activities/staleness.ts). */
export function staleDays(lake: Lake, request: BackfillRequest, current: Fingerprints): Promise<DayCheck[]> {
  return checkDays(lake, request, dateRange(request.startDate, request.endDate), current);
}

export function formatChecks(
  request: Pick<BackfillRequest, 'featureVersion' | 'startDate' | 'endDate'>,
  checks: DayCheck[],
): string {
  const stale = checks.filter((c) => c.stale);
  const lines = [
    `${request.featureVersion} ${request.startDate}..${request.endDate}: ${stale.length} of ${checks.length} day(s) stale`,
  ];
  for (const c of checks.filter((x) => x.reasons.length > 0)) {
    lines.push(`  ${c.dt}  ${c.reasons.join(', ')}`);
    for (const d of c.details) lines.push(`      ${d}`);
  }
  if (stale.length) lines.push(`Rebuild them with: backfill run --only-stale (same range and version)`);
  return lines.join('\n');
}

/** The lake of a --bucket: S3 for a bucket name or s3:// URI, else a local directory. */
export function lakeOf(bucket: string, deps: CliDeps): Lake {
  if (!lakeRoot(bucket).startsWith('s3://')) return new LocalLake();
  return new S3Lake(deps.awsClients ? deps.awsClients().s3 : createAwsClientsFromEnv().s3);
}

/** A request naming the lake paths of a version (validated like a backfill's input). */
export function ledgerRequest(values: Record<string, unknown> & { date?: string }): BackfillRequest {
  const bucket = (values.bucket as string | undefined) ?? process.env.BACKFILL_BUCKET;
  if (!bucket) throw new UsageError('--bucket is required (or BACKFILL_BUCKET)');
  const start = dateFlag(
    (values.date ?? values['start-date']) as string | undefined,
    values.date ? '--date' : '--start-date',
  );
  const end = dateFlag(
    (values.date ?? values['end-date']) as string | undefined,
    values.date ? '--date' : '--end-date',
  );
  try {
    return validateInput({
      // A local directory, also one named without ./ (as backfill run --local takes it); else an S3 bucket.
      bucket:
        !bucket.includes('://') && (/^[/.~]/.test(bucket) || fs.existsSync(bucket)) ? path.resolve(bucket) : bucket,
      startDate: start,
      endDate: end,
      featureVersion: values['feature-version'],
      featureGroup: values['feature-group'],
      allowIncompleteDays: true,
    });
  } catch (err) {
    if (err instanceof InputError) throw usageOfInputError(err);
    throw err;
  }
}
