/**
 * `backfill diff`: compares two sides of committed gold over a range, event by event, with a Spark
 * job (local spark-submit, or EMR Serverless with --aws): another version, or the same version
 * before its last overwrite. Prints a table, writes the JSON report and an HTML page, and gates a
 * promotion: exit 3 when a feature's share of changed events exceeds its limit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createAwsClientsFromEnv } from '../../activities/aws';
import { EmrServerlessRunner } from '../../activities/aws/emr';
import type { SparkRunner } from '../../activities/backends';
import { gate, type DiffReport } from '../../activities/diff/result';
import { runDiffJob } from '../../activities/diff/run';
import { resolveSide } from '../../activities/diff/sides';
import { GOLD_COLUMNS } from '../../activities/feature-records';
import { LocalSparkRunner } from '../../activities/local/spark-submit';
import { dateRange } from '../../common/dates';
import { definedFeatureVersions } from '../../common/feature-versions';
import type { BackfillRequest } from '../../common/input';
import { localPaths } from '../../config';
import { renderDiffHtml } from '../diff/html';
import { formatDiff } from '../diff/table';
import { EXIT, type CliDeps, type Io } from '../io';
import { integerFlag, parseFlags, UsageError, wantsHelp } from '../usage';
import { lakeOf, ledgerRequest } from './check';

/** Exit code of a diff whose changed share exceeds a limit: a promotion gate in CI tells it from a failure. */
export const EXIT_GATE = 3;

/** The features compared: the gold columns after the event's identity. */
export const DIFF_FEATURES: string[] = GOLD_COLUMNS.map((c) => c.name).filter(
  (n) => !['card_id', 'event_id', 'event_time'].includes(n),
);

const DIFF_HELP = `Usage: backfill diff --start-date D --end-date D --feature-version VER (--against VER | --before-overwrite) [options]

Compare two sides of committed gold over a range, event by event, with a Spark job: side b is
--feature-version's current gold, side a is --against's current gold, or with --before-overwrite
the gold the last overwrite of --feature-version replaced (kept by the catalog for rollback).
Per day and feature: rows on each side, events on one side only, the share of events whose value
changed, and count, mean, p50, p95 and max of each side and of |b - a|; the cards that changed most.

Options:
  --feature-version VER        side b (default v1)
  --against VER                side a: another version's current gold
  --before-overwrite           side a: the same version's gold before its last overwrite
  --start-date, --end-date     the days (required)
  --bucket BUCKET|DIR          the lake (default $BACKFILL_BUCKET)
  --out DIR                    where diff-<id>.json and diff-<id>.html go (default: current directory)
  --json                       the JSON report on stdout instead of the table
  --top-cards N                cards listed as changing most (default 10)
  --max-changed-share X        gate: exit 3 when any feature's share of changed events over the range
                               (0..1) exceeds X
  --max-changed-share-of F=X   gate one feature (repeatable; overrides --max-changed-share for F)
  --aws                        run on EMR Serverless (needs --emr-app-id, --emr-job-role, --code-bucket;
                               AWS_REGION and credentials from the environment); default: local spark-submit
  --emr-app-id, --emr-job-role, --code-bucket, --job-code-key   as for backfill run
Exit codes: 0 compared (gate passed or none), 1 the job failed or a side has no gold at all,
2 bad usage, 3 gate exceeded.`;

const FLAGS = {
  'feature-version': { type: 'string' },
  against: { type: 'string' },
  'before-overwrite': { type: 'boolean' },
  'start-date': { type: 'string' },
  'end-date': { type: 'string' },
  bucket: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  'top-cards': { type: 'string' },
  'max-changed-share': { type: 'string' },
  'max-changed-share-of': { type: 'string', multiple: true },
  aws: { type: 'boolean' },
  'emr-app-id': { type: 'string' },
  'emr-job-role': { type: 'string' },
  'code-bucket': { type: 'string' },
  'job-code-key': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

export async function diffCommand(argv: string[], io: Io, deps: CliDeps): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(DIFF_HELP);
    return EXIT.ok;
  }
  const { values } = parseFlags('diff', argv, FLAGS);
  for (const flag of ['start-date', 'end-date'] as const)
    if (values[flag] === undefined) throw new UsageError(`--${flag} is required; see backfill diff --help`);
  if (!values.against === !values['before-overwrite'])
    throw new UsageError('give one of --against VER or --before-overwrite; see backfill diff --help');
  const limits = gateLimits(values);
  const request = withEmr(ledgerRequest({ ...values, date: undefined }), values);
  const against = values.against ?? request.featureVersion;
  if (!definedFeatureVersions().includes(against))
    throw new UsageError(
      `--against: "${against}" is not defined; defined versions: ${definedFeatureVersions().join(', ')}`,
    );
  const lake = lakeOf(request.bucket, deps);
  const days = dateRange(request.startDate, request.endDate);
  const a = await resolveSide(
    lake,
    { request: { ...request, featureVersion: against }, kind: values.against ? 'current' : 'previous' },
    days,
  );
  const b = await resolveSide(lake, { request, kind: 'current' }, days);
  for (const side of [a, b])
    if (Object.keys(side.days).length === 0) {
      io.err(
        `backfill: ${side.label} has no gold in ${request.startDate}..${request.endDate} (${side.missing[0]?.reason})`,
      );
      return EXIT.failed;
    }
  const id = `${request.featureVersion}-vs-${values.against ? against : 'previous'}-${request.startDate}-${request.endDate}-${stamp()}`;
  const computation = await runDiffJob({
    lake,
    runner: runnerFor(values, deps),
    request,
    a,
    b,
    features: DIFF_FEATURES,
    topCards: integerFlag(values['top-cards'], '--top-cards') ?? 10,
    id,
    pollMs: deps.pollMs,
  });
  const report: DiffReport = {
    ...computation,
    a: { label: a.label, missing: a.missing },
    b: { label: b.label, missing: b.missing },
    startDate: request.startDate,
    endDate: request.endDate,
    gate: gate(computation.total, limits),
  };
  writeOutputs(report, id, values.out ?? '.', io);
  io.out(values.json ? JSON.stringify(report, null, 2) : formatDiff(report));
  return report.gate.exceeded.length > 0 ? EXIT_GATE : EXIT.ok;
}

function writeOutputs(report: DiffReport, id: string, dir: string, io: Io): void {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `diff-${id}.json`);
  const html = path.join(dir, `diff-${id}.html`);
  fs.writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(html, renderDiffHtml(report));
  io.err(`wrote ${json} and ${html}`);
}

function share(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new UsageError(`${flag} must be a share between 0 and 1 (0.05 for 5%), got "${value}"`);
  return n;
}

/** `--max-changed-share` as `*`, and each `--max-changed-share-of FEATURE=X`. */
export function gateLimits(values: Pick<Values, 'max-changed-share' | 'max-changed-share-of'>): Record<string, number> {
  const limits: Record<string, number> = {};
  if (values['max-changed-share'] !== undefined)
    limits['*'] = share(values['max-changed-share'], '--max-changed-share');
  for (const item of values['max-changed-share-of'] ?? []) {
    const [feature, value] = item.split('=', 2);
    if (!DIFF_FEATURES.includes(feature) || value === undefined)
      throw new UsageError(
        `--max-changed-share-of takes FEATURE=X with FEATURE one of ${DIFF_FEATURES.join(', ')}; got "${item}"`,
      );
    limits[feature] = share(value, `--max-changed-share-of ${feature}`);
  }
  return limits;
}

function withEmr(request: BackfillRequest, values: Values): BackfillRequest {
  if (!values.aws) return request;
  for (const flag of ['emr-app-id', 'emr-job-role', 'code-bucket'] as const)
    if (!values[flag]) throw new UsageError(`--aws needs --${flag}; see backfill diff --help`);
  return {
    ...request,
    emr: { appId: values['emr-app-id']!, jobRole: values['emr-job-role']! },
    codeBucket: values['code-bucket'],
    jobCodeKey: values['job-code-key'],
  };
}

function runnerFor(values: Values, deps: CliDeps): SparkRunner {
  if (values.aws) {
    const clients = deps.awsClients ? deps.awsClients() : createAwsClientsFromEnv();
    return new EmrServerlessRunner(clients.emr, {}, clients.s3);
  }
  const paths = localPaths();
  return new LocalSparkRunner({
    sparkSubmit: path.join(paths.venvBin, 'spark-submit'),
    python: path.join(paths.venvBin, 'python'),
    jobDir: paths.jobDir,
    logDir: path.join(paths.stateDir, 'spark-logs'),
  });
}

/** UTC time to the second, for a diff's id. */
function stamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
