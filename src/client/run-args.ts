/**
 * `backfill run` flags: every flag of the old run_backfill.py, plus ours. Parsing is pure and
 * returns the workflow input, so it is tested without a server.
 */
import { parseArgs } from 'node:util';
import type { BackfillInput } from '../common/input';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface RunOptions {
  input: BackfillInput;
  backend: 'local' | 'aws';
  follow: boolean;
  json: boolean;
  directEmr: boolean;
  taskQueue?: string;
  notices: string[];
}

export const RUN_HELP = `Usage: backfill run [options]

Start a feature backfill and follow it to the end.

Options of run_backfill.py (same names and meaning):
  --start-date YYYY-MM-DD       first day to backfill (required)
  --end-date YYYY-MM-DD         last day to backfill, inclusive (required)
  --chunk-size-days N           days per chunk, each its own retry unit (default 1)
  --feature-version VER         feature definitions to use, e.g. v1, v2 (default v1)
  --feature-group NAME          feature group to ingest into (default rt_card_features_<version>)
  --overwrite                   replace existing (version, day) partitions instead of skipping them
  --dry-run                     print the plan, bronze found and missing, and what would be skipped; write nothing
  --direct-emr                  submit one Spark job for the range on EMR Serverless, without the workflow
  --bucket BUCKET|DIR           data lake: S3 bucket, or a local directory with --local (required)
  --code-bucket BUCKET          S3 bucket holding spark_jobs/ (AWS)
  --emr-app-id ID               EMR Serverless application id (AWS)
  --emr-job-role ARN            EMR job execution role (AWS)
  --glue-crawler NAME           Glue crawler of the gold table (AWS)
  --state-machine-arn ARN       accepted and ignored: Temporal replaces Step Functions

Options of this tool:
  --local                       run on the local embedded backend with a worker in this process (default)
  --aws                         run on AWS; a worker with BACKFILL_BACKEND=aws must serve the task queue
  --max-concurrent-chunks N     chunks in flight at once (default 2)
  --task-queue NAME             Temporal task queue (default $BACKFILL_TASK_QUEUE or feature-backfill)
  --follow / --no-follow        wait for the end and print the report (default), or print the id and return
  --json                        print the final report as JSON
  -h, --help                    this help

Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE
(the Temporal SDK's environment configuration). Exit codes: 0 success, 1 backfill failed or partly failed, 2 bad usage.`;

export function parseRunArgs(argv: string[]): RunOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'start-date': { type: 'string' },
        'end-date': { type: 'string' },
        'chunk-size-days': { type: 'string' },
        'feature-version': { type: 'string' },
        'feature-group': { type: 'string' },
        overwrite: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        'direct-emr': { type: 'boolean' },
        bucket: { type: 'string' },
        'code-bucket': { type: 'string' },
        'emr-app-id': { type: 'string' },
        'emr-job-role': { type: 'string' },
        'glue-crawler': { type: 'string' },
        'state-machine-arn': { type: 'string' },
        local: { type: 'boolean' },
        aws: { type: 'boolean' },
        'max-concurrent-chunks': { type: 'string' },
        'task-queue': { type: 'string' },
        follow: { type: 'boolean' },
        'no-follow': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify.*$/s, '')}; see backfill run --help`);
  }
  const notices: string[] = [];
  if (values['state-machine-arn'] !== undefined) {
    notices.push('--state-machine-arn is ignored: Temporal replaces Step Functions.');
  }
  if (values.local && values.aws) throw new UsageError('--local and --aws exclude each other: pick one backend');
  if (values.follow && values['no-follow']) throw new UsageError('--follow and --no-follow exclude each other');
  for (const flag of ['start-date', 'end-date', 'bucket'] as const) {
    if (values[flag] === undefined) throw new UsageError(`--${flag} is required; see backfill run --help`);
  }
  const emr =
    values['emr-app-id'] !== undefined || values['emr-job-role'] !== undefined
      ? { appId: values['emr-app-id'], jobRole: values['emr-job-role'] }
      : undefined;
  const input: BackfillInput = {
    bucket: values.bucket,
    codeBucket: values['code-bucket'],
    startDate: values['start-date'],
    endDate: values['end-date'],
    featureVersion: values['feature-version'],
    chunkSizeDays: integer(values['chunk-size-days'], '--chunk-size-days'),
    overwrite: values.overwrite ?? false,
    dryRun: values['dry-run'] ?? false,
    featureGroup: values['feature-group'],
    emr,
    glue: values['glue-crawler'] !== undefined ? { crawlerName: values['glue-crawler'] } : undefined,
    maxConcurrentChunks: integer(values['max-concurrent-chunks'], '--max-concurrent-chunks'),
  };
  for (const key of Object.keys(input) as (keyof BackfillInput)[]) if (input[key] === undefined) delete input[key];
  return {
    input,
    backend: values.aws ? 'aws' : 'local',
    follow: !values['no-follow'],
    json: values.json ?? false,
    directEmr: values['direct-emr'] ?? false,
    taskQueue: values['task-queue'],
    notices,
  };
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got "${value}"`);
  return Number(value);
}
