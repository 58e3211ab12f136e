/**
 * `backfill lineage`: what one gold day was built from, as its gold commit in the ledger records it
 * (code revision, fingerprint, bronze files read, job run, Spark settings). Reads the lake directly.
 */
import { currentFingerprints } from '../../activities/ledger/fingerprint';
import { goldCommitUri, type GoldCommit } from '../../activities/ledger/records';
import { EXIT, type CliDeps, type Io } from '../io';
import { parseFlags, UsageError, wantsHelp } from '../usage';
import { lakeOf, ledgerRequest } from './check';

const LINEAGE_HELP = `Usage: backfill lineage --date YYYY-MM-DD [--feature-version VER] [--bucket BUCKET|DIR] [--json]

Print what the current gold of one day was built from, as its gold commit records it: the backfill
run, code revision, definition fingerprint (and whether it is the current one), the bronze files
read with their sizes, modification times and ETags, the job run and the Spark settings.

Options:
  --date YYYY-MM-DD       the gold day (required)
  --feature-version VER   default v1
  --bucket BUCKET|DIR     the lake: S3 bucket (or s3:// URI), or an existing local directory
                          (default $BACKFILL_BUCKET)
  --json                  the gold commit as JSON on stdout
Exit codes: 0 printed, 1 the day has no gold commit, 2 bad usage.`;

const FLAGS = {
  date: { type: 'string' },
  'feature-version': { type: 'string' },
  bucket: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function lineageCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(LINEAGE_HELP);
    return EXIT.ok;
  }
  const { values } = parseFlags('lineage', argv, FLAGS);
  if (values.date === undefined) throw new UsageError('--date is required; see backfill lineage --help');
  const request = ledgerRequest(values);
  const uri = goldCommitUri(request, values.date);
  const text = await lakeOf(request.bucket, deps).readText(uri);
  if (!text) {
    io.err(
      `backfill: no gold commit for ${request.featureVersion} ${values.date} (${uri}): the day was never built by a backfill`,
    );
    return EXIT.failed;
  }
  const commit = JSON.parse(text) as GoldCommit;
  io.out(
    values.json
      ? JSON.stringify(commit, null, 2)
      : formatLineage(commit, currentFingerprints(request.featureVersion).build),
  );
  return EXIT.ok;
}

function formatLineage(c: GoldCommit, currentFingerprint: string): string {
  const l = c.lineage;
  const lines = [
    `${c.feature_version} ${c.dt}: ${c.rows} rows, committed ${c.committed_at} by backfill run ${c.run_id}`,
    `  location          ${c.location ?? '(no rows)'}`,
    `  code revision     ${c.code_revision}`,
    `  fingerprint       ${c.fingerprint}${c.fingerprint === currentFingerprint ? ' (current)' : ` (current: ${currentFingerprint})`}`,
  ];
  if (!l)
    return [...lines, '  lineage           not recorded (committed before lineage was, or adopted foreign gold)'].join(
      '\n',
    );
  lines.push(`  job run           ${l.job_run_id ?? '-'} (Spark ${l.spark_version ?? '?'})`);
  lines.push(`  bronze partitions ${l.bronze.partitions.join(', ')}`);
  for (const f of l.bronze.files) {
    const when = typeof f.mtime === 'number' ? new Date(f.mtime).toISOString() : '-';
    lines.push(`    ${f.path}  ${f.size} bytes  modified ${when}${f.etag ? `  ETag ${f.etag}` : ''}`);
  }
  lines.push('  spark settings');
  for (const [k, v] of Object.entries(l.spark_conf ?? {}).sort()) lines.push(`    ${k}=${v}`);
  return lines.join('\n');
}
