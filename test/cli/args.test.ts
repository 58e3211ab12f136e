/** Flag parsing and usage errors of every command: no server needed (they fail before connecting). */
import assert from 'node:assert/strict';
import { HELP, main } from '../../src/client/cli';
import { CANCEL_HELP } from '../../src/client/commands/cancel';
import { LIST_HELP, listQuery } from '../../src/client/commands/list';
import { PAUSE_HELP, RESUME_HELP } from '../../src/client/commands/pause-resume';
import { RETRY_FAILED_HELP } from '../../src/client/commands/retry-failed';
import { SET_CONCURRENCY_HELP } from '../../src/client/commands/set-concurrency';
import { STATUS_HELP } from '../../src/client/commands/status';
import { DEFAULT_PRICES } from '../../src/client/cost';
import { parseRunArgs, RUN_FLAGS, RUN_HELP } from '../../src/client/run-args';
import { validateInput } from '../../src/common/input';
import { targetWorkflowId } from '../../src/client/target';
import { taskQueue } from '../../src/config';
import { fakeIo } from './support';

const base = ['--start-date', '2025-10-01', '--end-date', '2025-10-07', '--bucket', 'my-lake'];
const aws = [
  '--code-bucket',
  'code',
  '--emr-app-id',
  'app-1',
  '--emr-job-role',
  'arn:aws:iam::123456789012:role/EMRJobRole',
];

describe('cli: backfill run flags', () => {
  it('parses every flag of run_backfill.py into the Step Functions input', () => {
    const opts = parseRunArgs([
      ...base,
      ...aws,
      '--chunk-size-days',
      '3',
      '--feature-version',
      'v2',
      '--feature-group',
      'rt_card_features_v2',
      '--overwrite',
      '--glue-crawler',
      'gold-crawler',
      '--state-machine-arn',
      'arn:aws:states:ap-southeast-1:1:stateMachine:backfill-pipeline',
      '--aws',
    ]);
    assert.deepEqual(opts.input, {
      bucket: 'my-lake',
      codeBucket: 'code',
      startDate: '2025-10-01',
      endDate: '2025-10-07',
      featureVersion: 'v2',
      chunkSizeDays: 3,
      overwrite: true,
      dryRun: false,
      featureGroup: 'rt_card_features_v2',
      emr: { appId: 'app-1', jobRole: 'arn:aws:iam::123456789012:role/EMRJobRole' },
      glue: { crawlerName: 'gold-crawler' },
    });
    assert.equal(opts.backend, 'aws');
    assert.deepEqual(opts.notices, ['--state-machine-arn is ignored: Temporal replaces Step Functions.']);
    assert.equal(parseRunArgs([...base, '--dry-run']).input.dryRun, true);
    assert.equal(parseRunArgs([...base, ...aws, '--direct-emr']).directEmr, true);
    assert.equal(parseRunArgs([...base, ...aws, '--direct-emr']).backend, 'aws', '--direct-emr runs on AWS');
  });

  it('takes the publication flags into the workflow input; a bad value names the flag', async () => {
    const { input } = parseRunArgs([...base, '--online-horizon-days', '0', '--publish-with', 'spark']);
    assert.deepEqual([input.onlineHorizonDays, input.publishWith], [0, 'spark']);
    assert.equal(parseRunArgs([...base, '--target-stores', 'offline']).input.targetStores, 'offline');
    assert.throws(
      () => parseRunArgs([...base, '--online-horizon-days=-1']),
      /--online-horizon-days must be a whole number of at least 0/,
    );
    const io = fakeIo();
    assert.equal(await main(['run', ...base, '--target-stores', 'serving'], io), 2);
    assert.match(io.stderr(), /--target-stores: must be one of offline, online, both, got "serving"/);
  });

  it('takes the task priority flags into the workflow input; a bad value names the flag or field', async () => {
    assert.equal(parseRunArgs(base).input.priority, undefined, 'none given: the workflow applies the defaults');
    const { input } = parseRunArgs([
      ...base,
      '--priority',
      '5',
      '--fairness-key',
      'team-risk',
      '--fairness-weight',
      '0.5',
    ]);
    assert.deepEqual(input.priority, { priorityKey: 5, fairnessKey: 'team-risk', fairnessWeight: 0.5 });
    assert.deepEqual(parseRunArgs([...base, '--priority', '2']).input.priority, { priorityKey: 2 });
    assert.throws(() => parseRunArgs([...base, '--priority', 'low']), /--priority must be a whole number/);
    assert.throws(
      () => parseRunArgs([...base, '--fairness-weight', '0']),
      /--fairness-weight must be a positive number/,
    );
    const io = fakeIo();
    assert.equal(await main(['run', ...base, '--priority', '9'], io), 2);
    assert.match(io.stderr(), /priority\.priorityKey: must be a whole number from 1 \(first\) to 5 \(last\), got 9/);
  });

  it('parses our own flags: backend, concurrency, follow, json, spark conf, task queue, prices', () => {
    const local = parseRunArgs(base);
    assert.equal(local.backend, 'local');
    assert.equal(local.follow, true);
    assert.equal(local.json, false);
    assert.deepEqual(local.prices, DEFAULT_PRICES);
    const opts = parseRunArgs([
      ...base,
      '--aws',
      '--max-concurrent-chunks',
      '4',
      '--no-follow',
      '--json',
      '--spark-conf',
      'spark.executor.memory=16g',
      '--spark-conf',
      'spark.executor.instances=6',
      '--task-queue',
      'tq',
      '--price-vcpu-hour',
      '0.04',
      '--price-gb-hour',
      '0.005',
      '--assumed-throughput',
      '3.5',
    ]);
    assert.equal(opts.input.maxConcurrentChunks, 4);
    assert.deepEqual(opts.input.sparkConf, { 'spark.executor.memory': '16g', 'spark.executor.instances': '6' });
    assert.equal(opts.follow, false);
    assert.equal(opts.json, true);
    assert.equal(opts.taskQueue, 'tq');
    assert.deepEqual(opts.prices, { vcpuHour: 0.04, gbHour: 0.005 });
    assert.equal(opts.assumptions.mibPerCoreSecond, 3.5);
    assert.equal(parseRunArgs([...base, '--follow', '--local']).follow, true);
    assert.equal(parseRunArgs([...base, '--wait-for-overlap']).input.waitForOverlap, true);
    assert.equal(validateInput(parseRunArgs([...base, '--wait-for-overlap']).input).waitForOverlap, true);
    assert.ok(!('waitForOverlap' in parseRunArgs(base).input), 'unset unless asked');
    assert.equal(validateInput(parseRunArgs(base).input).waitForOverlap, false);
  });

  it('parses --allow-incomplete-days and --republish into the input (absent unless given)', () => {
    const opts = parseRunArgs([...base, '--allow-incomplete-days', '--republish']);
    assert.equal(opts.input.allowIncompleteDays, true);
    assert.equal(opts.input.republish, true);
    assert.ok(!('allowIncompleteDays' in parseRunArgs(base).input));
    assert.ok(!('republish' in parseRunArgs(base).input));
  });

  it('gives each backend its own default task queue, shown in --help', () => {
    assert.equal(parseRunArgs(base, {}).taskQueue, 'feature-backfill-local');
    assert.equal(parseRunArgs([...base, '--local'], { BACKFILL_BACKEND: 'aws' }).taskQueue, 'feature-backfill-local');
    assert.equal(parseRunArgs([...base, '--aws'], {}).taskQueue, 'feature-backfill');
    assert.equal(parseRunArgs([...base, ...aws, '--direct-emr'], {}).taskQueue, 'feature-backfill');
    assert.equal(parseRunArgs([...base, '--aws'], { BACKFILL_TASK_QUEUE: 'tq-env' }).taskQueue, 'tq-env');
    assert.equal(
      parseRunArgs([...base, '--aws', '--task-queue', 'tq'], { BACKFILL_TASK_QUEUE: 'tq-env' }).taskQueue,
      'tq',
    );
    // The worker's queue follows BACKFILL_BACKEND the same way.
    assert.equal(taskQueue({}), 'feature-backfill-local');
    assert.equal(taskQueue({ BACKFILL_BACKEND: 'local' }), 'feature-backfill-local');
    assert.equal(taskQueue({ BACKFILL_BACKEND: 'aws' }), 'feature-backfill');
    assert.equal(taskQueue({ BACKFILL_BACKEND: 'aws', BACKFILL_TASK_QUEUE: 'tq-env' }), 'tq-env');
    assert.match(
      RUN_HELP,
      /--task-queue NAME +Temporal task queue \(default \$BACKFILL_TASK_QUEUE, else feature-backfill-local\n +with --local and feature-backfill with --aws/,
    );
  });

  const bad: [string, string[], RegExp][] = [
    [
      'a malformed start date',
      ['--start-date', '01/10/2025', '--end-date', '2025-10-07', '--bucket', 'b'],
      /--start-date must be a date in YYYY-MM-DD form, got "01\/10\/2025"/,
    ],
    [
      'an impossible end date',
      ['--start-date', '2025-02-01', '--end-date', '2025-02-30', '--bucket', 'b'],
      /--end-date must be a date/,
    ],
    [
      'end before start',
      ['--start-date', '2025-10-07', '--end-date', '2025-10-01', '--bucket', 'b'],
      /--end-date: 2025-10-01 is before startDate 2025-10-07/,
    ],
    ['a missing start date', ['--end-date', '2025-10-07', '--bucket', 'b'], /--start-date is required/],
    ['a missing bucket', ['--start-date', '2025-10-01', '--end-date', '2025-10-07'], /--bucket is required/],
    [
      'chunk size 0',
      [...base, '--chunk-size-days', '0'],
      /--chunk-size-days must be a whole number of at least 1, got "0"/,
    ],
    ['a fractional chunk size', [...base, '--chunk-size-days', '1.5'], /--chunk-size-days must be a whole number/],
    ['a chunk size that is a word', [...base, '--chunk-size-days', 'week'], /--chunk-size-days must be a whole number/],
    [
      'concurrency 0',
      [...base, '--max-concurrent-chunks', '0'],
      /--max-concurrent-chunks must be a whole number of at least 1/,
    ],
    [
      'an unknown feature version',
      [...base, '--feature-version', 'v9'],
      /--feature-version: "v9" is not defined; defined versions: v1, v2/,
    ],
    [
      'a malformed feature version',
      [...base, '--feature-version', 'version2'],
      /--feature-version: "version2" is not of the form/,
    ],
    [
      'a bad feature group name',
      [...base, '--feature-group', 'bad name!'],
      /--feature-group: "bad name!" is not a valid feature group name/,
    ],
    ['an unknown flag', [...base, '--chunk-size', '2'], /Unknown option '--chunk-size'; see backfill run --help/],
    [
      'a flag without its value',
      [...base, '--feature-version'],
      /--feature-version.*argument missing|Option '--feature-version <value>' argument missing/,
    ],
    ['a stray positional', [...base, 'extra'], /extra.*see backfill run --help/],
    ['both backends', [...base, '--local', '--aws'], /--local and --aws exclude each other/],
    [
      'follow and no-follow',
      [...base, '--aws', '--follow', '--no-follow'],
      /--follow and --no-follow exclude each other/,
    ],
    ['no-follow with the local worker', [...base, '--no-follow'], /--no-follow needs --aws/],
    [
      'direct EMR without its settings',
      [...base, '--direct-emr'],
      /--direct-emr needs --code-bucket, --emr-app-id, --emr-job-role/,
    ],
    [
      'direct EMR with a dry run',
      [...base, ...aws, '--direct-emr', '--dry-run'],
      /--direct-emr and --dry-run exclude each other/,
    ],
    [
      'direct EMR on a local lake',
      ['--start-date', '2025-10-01', '--end-date', '2025-10-02', '--bucket', './lake', ...aws, '--direct-emr'],
      /--bucket: ".\/lake" is not an S3 bucket; --direct-emr/,
    ],
    ['only one of the EMR settings', [...base, '--emr-app-id', 'app-1'], /--emr-job-role: required/],
    ['a spark conf without =', [...base, '--spark-conf', 'spark.executor.memory'], /--spark-conf takes KEY=VALUE/],
    [
      'a spark conf that is not spark.*',
      [...base, '--spark-conf', 'executor.memory=8g'],
      /--spark-conf takes KEY=VALUE with a spark\.\* key/,
    ],
    [
      'an end date whose late events may still arrive',
      ['--start-date', '2099-01-01', '--end-date', '2099-01-02', '--bucket', 'b'],
      /--end-date: 2099-01-02 is after .*--allow-incomplete-days/,
    ],
    [
      'a bucket carrying Spark options',
      [...base.slice(0, 4), '--bucket', 'x --conf spark.jars=s3://evil/x.jar'],
      /--bucket: "x --conf spark\.jars=s3:\/\/evil\/x\.jar" contains whitespace/,
    ],
    [
      'a Spark setting that loads code (direct EMR: no worker decides)',
      [...base, ...aws, '--direct-emr', '--spark-conf', 'spark.jars=s3://evil/x.jar'],
      /--spark-conf spark\.jars: not a tuning key .*BACKFILL_ALLOW_SPARK_CONF/,
    ],
    [
      'a negative price',
      [...base, '--dry-run', '--price-vcpu-hour=-1'],
      /--price-vcpu-hour must be a positive number, got "-1"/,
    ],
    [
      'a price flag followed by another flag',
      [...base, '--dry-run', '--price-vcpu-hour', '--json'],
      /--price-vcpu-hour' argument is ambiguous/,
    ],
    [
      'a price that is not a number',
      [...base, '--dry-run', '--price-gb-hour', 'cheap'],
      /--price-gb-hour must be a positive number/,
    ],
    [
      'a zero throughput',
      [...base, '--dry-run', '--assumed-throughput', '0'],
      /--assumed-throughput must be a positive number/,
    ],
  ];
  for (const [name, argv, message] of bad) {
    it(`exits 2 naming the flag for ${name}`, async () => {
      const io = fakeIo();
      assert.equal(await main(['run', ...argv], io), 2, io.stderr());
      assert.match(io.stderr(), /^backfill: /);
      assert.match(io.stderr(), message);
      assert.equal(io.stdout(), '');
    });
  }

  it('lists every flag in its --help', async () => {
    const io = fakeIo();
    assert.equal(await main(['run', '--help'], io), 0);
    assert.equal(io.stdout(), RUN_HELP);
    for (const flag of Object.keys(RUN_FLAGS))
      assert.ok(RUN_HELP.includes(`--${flag}`), `--${flag} in backfill run --help`);
  });
});

describe('cli: commands, help and targets', () => {
  it('prints the command list for --help (exit 0) and without a command (exit 2)', async () => {
    let io = fakeIo();
    assert.equal(await main(['--help'], io), 0);
    assert.equal(io.stdout(), HELP);
    io = fakeIo();
    assert.equal(await main([], io), 2);
    assert.match(io.stderr(), /Usage: backfill <command>/);
    io = fakeIo();
    assert.equal(await main(['start'], io), 2);
    assert.match(
      io.stderr(),
      /unknown command "start"; commands: run, status, list, pause, resume, cancel, retry-failed, set-concurrency/,
    );
  });

  const helps: [string, string, string[]][] = [
    ['status', STATUS_HELP, ['--follow', '--json', '--chunks', '--offset', '--limit']],
    ['list', LIST_HELP, ['--feature-group', '--feature-version', '--status', '--limit', '--json']],
    ['pause', PAUSE_HELP, []],
    ['resume', RESUME_HELP, []],
    ['cancel', CANCEL_HELP, ['--wait', '--json']],
    ['retry-failed', RETRY_FAILED_HELP, ['--local', '--aws', '--follow', '--no-follow', '--json']],
    ['set-concurrency', SET_CONCURRENCY_HELP, ['--max-concurrent-chunks']],
  ];
  for (const [command, help, flags] of helps) {
    it(`backfill ${command} --help is complete`, async () => {
      const io = fakeIo();
      assert.equal(await main([command, '--help'], io), 0);
      assert.equal(io.stdout(), help);
      assert.match(help, new RegExp(`^Usage: backfill ${command}`));
      assert.match(help, /Exit codes:/);
      assert.ok(HELP.includes(`  ${command} `), `${command} in backfill --help`);
      const all =
        command === 'list'
          ? flags
          : [...flags, '--start-date', '--end-date', '--feature-version', '--feature-group', '--dry-run'];
      for (const flag of [...all, '--help']) assert.ok(help.includes(flag), `${flag} in backfill ${command} --help`);
    });
  }

  it('names the backfill by id, or by the flags that make up the id', () => {
    assert.equal(targetWorkflowId('status', ['backfill-x'], {}), 'backfill-x');
    assert.equal(
      targetWorkflowId('status', [], { 'start-date': '2025-10-01', 'end-date': '2025-10-07' }),
      'backfill-rt_card_features_v1-v1-2025-10-01-2025-10-07',
    );
    assert.equal(
      targetWorkflowId('status', [], {
        'start-date': '2025-10-01',
        'end-date': '2025-10-07',
        'feature-version': 'v1.1',
        'dry-run': true,
      }),
      'backfill-rt_card_features_v1_1-v1.1-2025-10-01-2025-10-07-dry-run',
    );
    assert.equal(
      targetWorkflowId('status', [], {
        'start-date': '2025-10-01',
        'end-date': '2025-10-07',
        'feature-version': 'v2',
        'feature-group': 'fg',
      }),
      'backfill-fg-v2-2025-10-01-2025-10-07',
    );
  });

  const badTargets: [string[], RegExp][] = [
    [['status'], /backfill status needs a workflow id, or --start-date and --end-date/],
    [['pause', '--start-date', '2025-10-01'], /backfill pause needs a workflow id, or --start-date and --end-date/],
    [['resume', 'a', 'b'], /backfill resume takes one workflow id, got 2: a b/],
    [['cancel', 'id', '--start-date', '2025-10-01'], /give either a workflow id or --start-date/],
    [
      ['retry-failed', '--start-date', '2025-13-01', '--end-date', '2025-10-02'],
      /--start-date must be a date in YYYY-MM-DD form, got "2025-13-01"/,
    ],
    [
      ['status', '--start-date', '2025-10-01', '--end-date', '2025-10-02', '--feature-version', 'two'],
      /--feature-version must be v<major> followed by up to three \.<part> or _<part> \(v1, v1\.1, v1_corrected\), got "two"/,
    ],
    [['status', 'id', '--verbose'], /Unknown option '--verbose'; see backfill status --help/],
    [['retry-failed', 'id', '--local', '--aws'], /--local and --aws exclude each other/],
    [['set-concurrency', 'id'], /--max-concurrent-chunks N is required/],
    [['set-concurrency', 'id', '--max-concurrent-chunks', '65'], /--max-concurrent-chunks must be at most 64, got 65/],
    [['retry-failed', 'id', '--local', '--no-follow'], /--no-follow needs --aws/],
    [['list', '--limit', '0'], /--limit must be a whole number of at least 1, got "0"/],
    [
      ['list', '--status', 'done'],
      /--status must be one of running, paused, waiting, cancelling, succeeded, partially_failed, failed, cancelled, dry_run; got "done"/,
    ],
    [['set-concurrency', 'id', '--max-concurrent-chunks', 'many'], /--max-concurrent-chunks must be a whole number/],
    [['status', 'id', '--chunks', 'done'], /--chunks must be failed, running or all, got "done"/],
    [['status', 'id', '--limit', '500'], /--limit must be at most 200, got 500/],
    [['status', 'id', '--offset', 'x'], /--offset must be a whole number/],
  ];
  for (const [argv, message] of badTargets) {
    it(`exits 2 for: backfill ${argv.join(' ')}`, async () => {
      const saved = process.env.TEMPORAL_ADDRESS;
      process.env.TEMPORAL_ADDRESS = '127.0.0.1:1'; // nothing listens: a usage error either way
      try {
        const io = fakeIo();
        assert.equal(await main(argv, io), 2, io.stderr());
        assert.match(io.stderr(), message);
      } finally {
        if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
        else process.env.TEMPORAL_ADDRESS = saved;
      }
    });
  }

  it('says how to reach Temporal when nothing answers', async () => {
    const saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
    try {
      const io = fakeIo();
      assert.equal(await main(['list'], io), 2);
      assert.match(io.stderr(), /cannot reach Temporal at 127\.0\.0\.1:1 .*set TEMPORAL_ADDRESS/);
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = saved;
    }
  });

  it('builds the list query from the search attributes, quoting values', () => {
    assert.equal(listQuery({}), "WorkflowType = 'backfillWorkflow' AND ExecutionStatus != 'ContinuedAsNew'");
    assert.equal(
      listQuery({ featureGroup: "fg'x", featureVersion: 'v2', status: 'running' }),
      "WorkflowType = 'backfillWorkflow' AND ExecutionStatus != 'ContinuedAsNew' AND BackfillFeatureGroup = 'fg\\'x' AND BackfillFeatureVersion = 'v2' AND BackfillStatus = 'running'",
    );
  });
});
