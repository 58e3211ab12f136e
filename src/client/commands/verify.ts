/**
 * `backfill verify`: a publication receipt for a feature group and range. Per day, the ledger's
 * publication record against what the offline store holds (locally the SQLite store and the Spark
 * job's files; on AWS an Athena query over the offline store's table), and a sample of cards read
 * back from the online store against gold's latest row per card. Exit 1 on any difference.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AthenaOfflineReader } from '../../activities/verify/athena';
import { FeatureStoreOnlineReader } from '../../activities/verify/online-aws';
import { localFeatureStoreFile } from '../../activities/local/feature-store';
import { lakeRoot } from '../../activities/lake-paths';
import { LocalStoreReader } from '../../activities/verify/local-stores';
import { verifyPublication } from '../../activities/verify/receipt';
import type { OfflineStoreReader, OnlineStoreReader, VerifyReceipt } from '../../activities/verify/types';
import { EXIT, type CliDeps, type Io } from '../io';
import { integerFlag, parseFlags, UsageError, wantsHelp } from '../usage';
import { lakeOf, ledgerRequest } from './check';

const VERIFY_HELP = `Usage: backfill verify --start-date D --end-date D [--feature-version VER] [--feature-group NAME] [options]

A publication receipt: per day, the ledger's publication record of the current gold against what
the offline store holds (records written since the gold commit are its publication; earlier ones
are history an overwrite left), counting gold events missing, copies beyond the ledger's
possible_duplicates, events whose latest write differs from gold, and events not in gold; then a
sample of cards read back from the online store against gold's latest row per card.

Options:
  --feature-version VER    default v1
  --feature-group NAME     default rt_card_features_<version>
  --start-date, --end-date the days (required)
  --bucket BUCKET|DIR      the lake (default $BACKFILL_BUCKET); locally its _feature_store/ is read
  --sample-cards N         cards read back from the online store (default 20)
  --out FILE               write the receipt (JSON) there
  --json                   the receipt on stdout instead of the table
  --aws                    read the offline store with Athena and the online store with BatchGetRecord
                           (AWS_REGION and credentials from the environment), with:
  --athena-table DB.TABLE  the offline store's Glue table (describe-feature-group: DataCatalogConfig)
  --athena-workgroup NAME  default primary
  --athena-output S3URI    query result location (unless the workgroup sets one)
Exit codes: 0 the stores hold what the ledger says, 1 a difference, 2 bad usage.`;

const FLAGS = {
  'feature-version': { type: 'string' },
  'feature-group': { type: 'string' },
  'start-date': { type: 'string' },
  'end-date': { type: 'string' },
  bucket: { type: 'string' },
  'sample-cards': { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  aws: { type: 'boolean' },
  'athena-table': { type: 'string' },
  'athena-workgroup': { type: 'string' },
  'athena-output': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

export async function verifyCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(VERIFY_HELP);
    return EXIT.ok;
  }
  const { values } = parseFlags('verify', argv, FLAGS);
  for (const flag of ['start-date', 'end-date'] as const)
    if (values[flag] === undefined) throw new UsageError(`--${flag} is required; see backfill verify --help`);
  const request = ledgerRequest({ ...values, date: undefined });
  const { offline, online } = readersFor(values, request.bucket, deps);
  const receipt = await verifyPublication({
    lake: lakeOf(request.bucket, deps),
    request,
    offline,
    online,
    sampleCards: integerFlag(values['sample-cards'], '--sample-cards', 0) ?? 20,
  });
  if (values.out) {
    fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    fs.writeFileSync(values.out, JSON.stringify(receipt, null, 2) + '\n');
  }
  io.out(values.json ? JSON.stringify(receipt, null, 2) : formatReceipt(receipt));
  return receipt.differences > 0 ? EXIT.failed : EXIT.ok;
}

function readersFor(
  values: Values,
  bucket: string,
  deps: CliDeps,
): { offline: OfflineStoreReader; online: OnlineStoreReader } {
  if (!values.aws) {
    if (!lakeRoot(bucket).startsWith('file://'))
      throw new UsageError(`--bucket ${bucket} is not a local directory: pass --aws to read the AWS stores`);
    const local = new LocalStoreReader(localFeatureStoreFile(bucket));
    return { offline: local, online: local };
  }
  const table = values['athena-table'];
  if (!table || !/^[\w-]+\.[\w-]+$/.test(table))
    throw new UsageError(
      '--aws needs --athena-table DATABASE.TABLE (the offline store table); see backfill verify --help',
    );
  const clients = deps.verifyClients ? deps.verifyClients() : undefined;
  const [database, tableName] = table.split('.');
  return {
    offline: new AthenaOfflineReader(clients?.athena, {
      database,
      table: tableName,
      workgroup: values['athena-workgroup'],
      outputLocation: values['athena-output'],
      pollMs: deps.pollMs,
    }),
    online: new FeatureStoreOnlineReader(clients?.featureStore),
  };
}

export function formatReceipt(r: VerifyReceipt): string {
  const lines = [
    `verify ${r.feature_group} (${r.feature_version}) ${r.start_date}..${r.end_date}, offline: ${r.offline_source}`,
    '',
  ];
  const header = [
    'day',
    'gold',
    'ledger',
    'offline',
    'since commit',
    'missing',
    'extra',
    'beyond bound',
    'stale',
    'not in gold',
  ];
  const rows = r.days.map((d) => [
    d.dt,
    String(d.gold_rows),
    d.ledger ? `${d.ledger.records_written} ${d.ledger.status}` : 'none',
    String(d.offline.rows),
    String(d.offline.events_since_commit),
    String(d.missing),
    String(d.extra_copies),
    String(d.duplicates_beyond_bound),
    String(d.stale),
    String(d.not_in_gold),
  ]);
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  lines.push(
    ...all.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')),
  );
  for (const d of r.days) for (const p of d.problems) lines.push(`  ${d.dt}: ${p}`);
  const o = r.online;
  lines.push(
    '',
    o.sampled === 0
      ? 'online: not checked: no day of the range was published to the online store (its target stores)'
      : `online: ${o.sampled} cards sampled, ${o.matched} match gold's latest row, ${o.newer} hold a later event`,
  );
  for (const d of o.differences) lines.push(`  ${d.card_id}: ${d.problem}`);
  lines.push(
    '',
    r.differences === 0 ? 'receipt: the stores hold what the ledger says' : `receipt: ${r.differences} difference(s)`,
  );
  return lines.join('\n');
}
