/**
 * `backfill run` flags: every flag of the old run_backfill.py, plus ours. Parsing is pure and
 * returns the workflow input, so it is tested without a server.
 */
import { DEFAULT_MAX_CONCURRENT_CHUNKS, MAX_CONCURRENT_CHUNKS_LIMIT, type BackfillInput } from '../common/input';
import { DEFAULT_BACKFILL_PRIORITY_KEY, FAIRNESS_WEIGHT_RANGE, MAX_PRIORITY_KEY } from '../common/task-priority';
import { DEFAULT_TASK_QUEUES, taskQueue as defaultTaskQueue } from '../config';
import { DEFAULT_ASSUMPTIONS, DEFAULT_PRICES, type CostAssumptions, type UnitPrices } from './cost';
import { dateFlag, exclusive, integerFlag, parseFlags, positiveNumberFlag, UsageError, type FlagSpec } from './usage';

export interface RunOptions {
  input: BackfillInput;
  backend: 'local' | 'aws';
  follow: boolean;
  json: boolean;
  directEmr: boolean;
  /** --only-stale: the CLI narrows the run to the stale days (backfill check) before starting it. */
  onlyStale: boolean;
  /** --task-queue, else BACKFILL_TASK_QUEUE, else the backend's default queue. */
  taskQueue: string;
  prices: UnitPrices;
  assumptions: CostAssumptions;
  notices: string[];
}

export const RUN_HELP = `Usage: backfill run --start-date YYYY-MM-DD --end-date YYYY-MM-DD --bucket BUCKET|DIR [options]

Start a feature backfill (a Temporal workflow) and follow it to its report. Starting the same
backfill again while it runs follows the running one (with any different input, e.g. --overwrite,
it exits 2: the running one must finish or be cancelled first); after it ended, starts it again
(days already in gold are skipped unless --overwrite). A backfill sharing days with a running one
of the same feature group and version is refused (exit 2), or waits with --wait-for-overlap.

Options of run_backfill.py (same names and meaning):
  --start-date YYYY-MM-DD       first day to backfill (required)
  --end-date YYYY-MM-DD         last day to backfill, inclusive (required)
  --chunk-size-days N           days per chunk; each chunk is its own Spark job and retry unit (default 1)
  --feature-version VER         feature definitions to compute: v1, v2, ... (default v1)
  --feature-group NAME          feature group to ingest into (default rt_card_features_<version>)
  --overwrite                   replace existing (version, day) gold partitions instead of skipping them
  --allow-incomplete-days       accept an end date whose late events may still be arriving (later than
                                yesterday minus the 1-day lateness window, UTC); later runs skip those
                                days once they are in gold, so their late events would never be counted
  --accept-definition-change    add days of a version built with another definition fingerprint (its
                                definitions.json entry or transform code changed) than its days already
                                built; without it such a run is refused (exit 2); the report lists the
                                days rebuilt over the old definition
  --only-stale                  build only the days backfill check finds stale in the range: never built,
                                bronze changed since built, or another definition fingerprint (those are
                                overwritten; one-day chunks); --dry-run shows the same list
  --republish                   also send gold that has no publication record (e.g. written by the old
                                pipeline) to the feature store, once
  --online-horizon-days N       days before today whose records also go to the online store; older days go
                                to the offline store only (0: no horizon, every day to both; default: the
                                feature group's online TTL, else 7)
  --target-stores offline|online|both
                                send every day to these stores, whatever the horizon
  --publish-with spark|api      what writes the offline-only days: the Spark job straight into the offline
                                store, or the API (default: spark from 2 offline-only days on, where the
                                job can publish; see docs/guide.md, "Publishing history")
  --dry-run                     write nothing: print the chunk plan, bronze partitions found and missing
                                with their sizes, partitions that would be skipped or overwritten, and
                                an estimated EMR Serverless cost
  --direct-emr                  submit one Spark job for the whole range to EMR Serverless and wait for
                                it, without the workflow (no catalog refresh, ingestion or validation);
                                needs --code-bucket, --emr-app-id, --emr-job-role and an S3 --bucket
  --bucket BUCKET|DIR           data lake: S3 bucket (or s3:// URI), or a local directory with --local (required)
  --code-bucket BUCKET          S3 bucket holding the deployed job code (AWS; see deploy-job)
  --emr-app-id ID               EMR Serverless application id (AWS)
  --emr-job-role ARN            EMR Serverless job execution role (AWS)
  --glue-crawler NAME           Glue crawler of the gold table (AWS, crawler catalog mode)
  --state-machine-arn ARN       accepted and ignored: Temporal replaces Step Functions

Options of this tool:
  --local                       local backend: a worker runs in this process for as long as the command
                                follows the backfill (spark-submit, lake directory, local feature store) (default)
  --aws                         AWS backend: a worker started with BACKFILL_BACKEND=aws must serve the task queue
  --wait-for-overlap            when a running backfill of the same feature group and version has some of
                                these days, wait for it to end instead of failing at once
  --max-concurrent-chunks N     chunks in flight at once (default ${DEFAULT_MAX_CONCURRENT_CHUNKS}, at most ${MAX_CONCURRENT_CHUNKS_LIMIT}; change it later with backfill set-concurrency)
  --priority N                  Temporal task priority of the backfill's activities and chunks, 1 (first)
                                to ${MAX_PRIORITY_KEY} (last); production tasks that set none have 3 and go first
                                (default ${DEFAULT_BACKFILL_PRIORITY_KEY}; see docs/operations.md, "Sharing a task queue")
  --fairness-key KEY            fairness key of the backfill's tasks: backfills with different keys share the
                                queue by weight (default: the backfill's workflow id, each backfill its own share)
  --fairness-weight W           this backfill's share against other fairness keys, ${FAIRNESS_WEIGHT_RANGE[0]} to ${FAIRNESS_WEIGHT_RANGE[1]} (default 1)
  --spark-conf KEY=VALUE        Spark setting on top of the sizing by bronze bytes read, e.g.
                                spark.executor.memory=16g (repeatable)
  --task-queue NAME             Temporal task queue (default $BACKFILL_TASK_QUEUE, else ${DEFAULT_TASK_QUEUES.local}
                                with --local and ${DEFAULT_TASK_QUEUES.aws} with --aws: each backend has its own)
  --follow                      follow the backfill to its end and print the report (default)
  --no-follow                   print the workflow id (with --direct-emr: the EMR job run id) and return
                                at once (--aws; with --local the worker
                                would stop with this command, so --local always follows)
  --json                        print the final report (and a dry run's estimate) as JSON on stdout
  -h, --help                    this help

Dry-run cost estimate (see docs/guide.md, "Estimating cost"):
  --price-vcpu-hour USD         EMR Serverless price per vCPU-hour (default ${DEFAULT_PRICES.vcpuHour}, us-east-1 x86)
  --price-gb-hour USD           EMR Serverless price per GB-hour of memory (default ${DEFAULT_PRICES.gbHour})
  --assumed-throughput MIB      compressed bronze one executor core processes per second, MiB (default ${DEFAULT_ASSUMPTIONS.mibPerCoreSecond})

Progress goes to stderr (a live bar on a terminal, log lines otherwise); the report to stdout.
Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE
(the Temporal SDK's environment configuration); BACKFILL_UI_URL sets the Web UI base of the links printed.
Local backend state: BACKFILL_STATE_DIR (default .state); the local feature store is <lake>/_feature_store/feature-store.db.
Exit codes: 0 success (or a dry run), 1 backfill failed or partly failed, 2 bad usage.`;

/** Every flag of `backfill run`; the help above lists each one (a test checks). */
export const RUN_FLAGS = {
  'start-date': { type: 'string' },
  'end-date': { type: 'string' },
  'chunk-size-days': { type: 'string' },
  'feature-version': { type: 'string' },
  'feature-group': { type: 'string' },
  overwrite: { type: 'boolean' },
  'allow-incomplete-days': { type: 'boolean' },
  republish: { type: 'boolean' },
  'accept-definition-change': { type: 'boolean' },
  'only-stale': { type: 'boolean' },
  'online-horizon-days': { type: 'string' },
  'target-stores': { type: 'string' },
  'publish-with': { type: 'string' },
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
  'wait-for-overlap': { type: 'boolean' },
  'spark-conf': { type: 'string', multiple: true },
  priority: { type: 'string' },
  'fairness-key': { type: 'string' },
  'fairness-weight': { type: 'string' },
  'task-queue': { type: 'string' },
  follow: { type: 'boolean' },
  'no-follow': { type: 'boolean' },
  json: { type: 'boolean' },
  'price-vcpu-hour': { type: 'string' },
  'price-gb-hour': { type: 'string' },
  'assumed-throughput': { type: 'string' },
} satisfies FlagSpec;

type RunFlagValues = ReturnType<typeof parseFlags<typeof RUN_FLAGS>>['values'];

export function parseRunArgs(argv: string[], env = process.env): RunOptions {
  const { values } = parseFlags('run', argv, RUN_FLAGS);
  const notices: string[] = [];
  if (values['state-machine-arn'] !== undefined)
    notices.push('--state-machine-arn is ignored: Temporal replaces Step Functions.');
  checkRunFlags(values);
  const directEmr = values['direct-emr'] ?? false;
  const backend = values.aws || directEmr ? 'aws' : 'local';
  if (values['no-follow'] && backend === 'local') {
    throw new UsageError(
      '--no-follow needs --aws: with --local the worker runs inside this command and would stop with it',
    );
  }
  return {
    input: runInputOf(values),
    backend,
    follow: !values['no-follow'],
    json: values.json ?? false,
    directEmr,
    onlyStale: values['only-stale'] ?? false,
    taskQueue: values['task-queue'] ?? defaultTaskQueue(env, backend),
    prices: {
      vcpuHour: positiveNumberFlag(values['price-vcpu-hour'], '--price-vcpu-hour') ?? DEFAULT_PRICES.vcpuHour,
      gbHour: positiveNumberFlag(values['price-gb-hour'], '--price-gb-hour') ?? DEFAULT_PRICES.gbHour,
    },
    assumptions: {
      ...DEFAULT_ASSUMPTIONS,
      mibPerCoreSecond:
        positiveNumberFlag(values['assumed-throughput'], '--assumed-throughput') ??
        DEFAULT_ASSUMPTIONS.mibPerCoreSecond,
    },
    notices,
  };
}

/** Flags that exclude each other, the required ones, and what --direct-emr needs. */
function checkRunFlags(values: RunFlagValues): void {
  exclusive(values, 'local', 'aws', 'pick one backend');
  exclusive(values, 'follow', 'no-follow', 'pick one');
  exclusive(values, 'direct-emr', 'dry-run', 'a direct EMR run always writes; use --dry-run alone to see the plan');
  exclusive(values, 'direct-emr', 'local', '--direct-emr runs on EMR Serverless');
  exclusive(values, 'direct-emr', 'only-stale', 'a direct EMR run has no ledger checks');
  for (const flag of ['start-date', 'end-date', 'bucket'] as const) {
    if (values[flag] === undefined) throw new UsageError(`--${flag} is required; see backfill run --help`);
  }
  if (!values['direct-emr']) return;
  const missing = ['code-bucket', 'emr-app-id', 'emr-job-role'].filter(
    (f) => values[f as keyof typeof values] === undefined,
  );
  if (missing.length) {
    throw new UsageError(
      `--direct-emr needs ${missing.map((f) => `--${f}`).join(', ')} (the EMR Serverless application, its job role and the bucket holding the job code deployed with deploy-job)`,
    );
  }
}

/** The workflow input the flags give; flags not given are left out (the workflow's defaults apply). */
function runInputOf(values: RunFlagValues): BackfillInput {
  const emr =
    values['emr-app-id'] !== undefined || values['emr-job-role'] !== undefined
      ? { appId: values['emr-app-id'], jobRole: values['emr-job-role'] }
      : undefined;
  const input: BackfillInput = {
    bucket: values.bucket,
    codeBucket: values['code-bucket'],
    startDate: dateFlag(values['start-date'], '--start-date'),
    endDate: dateFlag(values['end-date'], '--end-date'),
    featureVersion: values['feature-version'],
    chunkSizeDays: integerFlag(values['chunk-size-days'], '--chunk-size-days'),
    overwrite: values.overwrite ?? false,
    dryRun: values['dry-run'] ?? false,
    featureGroup: values['feature-group'],
    emr,
    glue: values['glue-crawler'] !== undefined ? { crawlerName: values['glue-crawler'] } : undefined,
    maxConcurrentChunks: integerFlag(values['max-concurrent-chunks'], '--max-concurrent-chunks'),
    sparkConf: sparkConf(values['spark-conf']),
    allowIncompleteDays: values['allow-incomplete-days'],
    republish: values.republish,
    waitForOverlap: values['wait-for-overlap'],
    acceptDefinitionChange: values['accept-definition-change'],
    onlineHorizonDays: integerFlag(values['online-horizon-days'], '--online-horizon-days', 0),
    targetStores: values['target-stores'],
    publishWith: values['publish-with'],
    priority: priorityOf(values),
  };
  for (const key of Object.keys(input) as (keyof BackfillInput)[]) if (input[key] === undefined) delete input[key];
  return input;
}

/** --priority, --fairness-key, --fairness-weight as the request's priority (validateInput checks the ranges). */
function priorityOf(values: RunFlagValues): BackfillInput['priority'] {
  const priority = {
    priorityKey: integerFlag(values.priority, '--priority'),
    fairnessKey: values['fairness-key'],
    fairnessWeight: positiveNumberFlag(values['fairness-weight'], '--fairness-weight'),
  };
  const given = Object.entries(priority).filter(([, v]) => v !== undefined);
  return given.length ? Object.fromEntries(given) : undefined;
}

function sparkConf(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const conf: Record<string, string> = {};
  for (const pair of pairs) {
    const m = /^(spark\.[^=\s]+)=(\S+)$/.exec(pair);
    if (!m)
      throw new UsageError(
        `--spark-conf takes KEY=VALUE with a spark.* key and no spaces, e.g. spark.executor.memory=16g; got "${pair}"`,
      );
    conf[m[1]] = m[2];
  }
  return conf;
}
