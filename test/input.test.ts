import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../src/activities';
import { createLocalBackends } from '../src/activities/local';
import {
  checkWorkerAllowances,
  InputError,
  MAX_RANGE_DAYS,
  validateInput,
  WORKER_DECIDES,
  type ValidateOptions,
} from '../src/common/input';
import { planChunks } from '../src/common/plan';
import { fairnessKeyOf, taskPriorityOf } from '../src/common/task-priority';
import { ALLOWED_SPARK_CONF } from '../src/common/spark-conf';
import { workerAllowances } from '../src/config';

const base = {
  bucket: '/tmp/lake',
  startDate: '2025-10-01',
  endDate: '2025-10-07',
  featureVersion: 'v1',
  chunkSizeDays: 1,
};

function rejects(input: unknown, field: string, text: RegExp, options?: ValidateOptions): void {
  assert.throws(
    () => validateInput(input, options),
    (err: unknown) => {
      assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
      assert.equal(err.field, field);
      assert.match(err.message, text);
      return true;
    },
  );
}

describe('validateInput', () => {
  it('accepts the Step Functions input unchanged and fills defaults', () => {
    const req = validateInput({
      bucket: 'your-datalake-bucket',
      codeBucket: 'your-code-bucket',
      startDate: '2025-10-01',
      endDate: '2025-10-07',
      featureVersion: 'v2',
      chunkSizeDays: 1,
      overwrite: false,
      dryRun: false,
      featureGroup: 'rt_card_features_v2',
      emr: { appId: 'app', jobRole: 'arn:aws:iam::1:role/r' },
      glue: { crawlerName: 'gold-crawler' },
    });
    assert.equal(req.featureVersion, 'v2');
    assert.equal(req.featureGroup, 'rt_card_features_v2');
    assert.deepEqual(req.emr, { appId: 'app', jobRole: 'arn:aws:iam::1:role/r' });
    assert.equal(req.maxConcurrentChunks, 2);
    assert.deepEqual(req.prefixes, { bronze: 'bronze/streaming', silver: 'silver', gold: 'gold' });
  });

  it('defaults the feature group from the version', () => {
    assert.equal(
      validateInput({ ...base, featureVersion: 'v2', featureGroup: undefined }).featureGroup,
      'rt_card_features_v2',
    );
  });

  it('rejects an end date before the start date', () =>
    rejects({ ...base, endDate: '2025-09-30' }, 'endDate', /before startDate/));
  it('rejects malformed dates', () => {
    rejects({ ...base, startDate: '2025/10/01' }, 'startDate', /YYYY-MM-DD/);
    rejects({ ...base, endDate: '2025-02-30' }, 'endDate', /YYYY-MM-DD/);
    rejects({ ...base, startDate: undefined }, 'startDate', /required/);
  });
  it('rejects a chunk size of 0 or below, or not whole', () => {
    rejects({ ...base, chunkSizeDays: 0 }, 'chunkSizeDays', /at least 1/);
    rejects({ ...base, chunkSizeDays: -3 }, 'chunkSizeDays', /at least 1/);
    rejects({ ...base, chunkSizeDays: 1.5 }, 'chunkSizeDays', /whole number/);
    rejects({ ...base, chunkSizeDays: '7' }, 'chunkSizeDays', /whole number/);
  });
  it('rejects an unknown feature version, naming the defined ones', () => {
    rejects({ ...base, featureVersion: 'v9' }, 'featureVersion', /not defined; defined versions: v1, v2/);
    rejects({ ...base, featureVersion: 'latest' }, 'featureVersion', /v<major>/);
  });
  it('rejects misspelt fields and bad nested fields', () => {
    rejects({ ...base, chunkSize: 3 }, 'chunkSize', /unknown field/);
    rejects({ ...base, emr: { appId: 'x' } }, 'emr.jobRole', /required/);
    rejects({ ...base, overwrite: 'yes' }, 'overwrite', /true or false/);
    rejects({ ...base, sparkConf: { executorMemory: '8g' } }, 'sparkConf.executorMemory', /spark\./);
    rejects('not an object', 'input', /JSON object/);
  });
});

/** 2026-11-26 12:00 UTC: "today" of the date rules below. */
const NOW = Date.UTC(2026, 10, 26, 12);

describe('validateInput: hardened input', () => {
  it('accepts bucket names, s3:// and file:// URIs and lake directories as bucket and codeBucket', () => {
    for (const place of ['my-datalake-bucket', 's3://lake/sub', 'file:///tmp/lake', '/tmp/lake', './lake', '~/lake']) {
      assert.equal(validateInput({ ...base, bucket: place }).bucket, place);
      assert.equal(validateInput({ ...base, codeBucket: place }).codeBucket, place);
    }
  });

  it('rejects buckets with whitespace, control characters, a leading "-", "," or another scheme', () => {
    for (const field of ['bucket', 'codeBucket']) {
      rejects(
        { ...base, [field]: 'x --conf spark.jars=s3://evil/x.jar' },
        field,
        /contains whitespace or control characters/,
      );
      rejects({ ...base, [field]: 'lake\tbucket' }, field, /whitespace or control/);
      rejects({ ...base, [field]: 'lake\u0000bucket' }, field, /whitespace or control/);
      rejects({ ...base, [field]: 'lake\u001bbucket' }, field, /whitespace or control/);
      rejects({ ...base, [field]: '--conf=spark.jars=x' }, field, /starts with "-"/);
      rejects({ ...base, [field]: 'code,s3://evil/x.zip' }, field, /contains ","/);
      rejects({ ...base, [field]: 'http://evil/lake' }, field, /only s3:\/\/BUCKET and file:\/\/\/PATH URIs/);
      rejects({ ...base, [field]: 's3:///no-bucket' }, field, /only s3:\/\/BUCKET/);
    }
  });

  it('accepts relative prefixes (a trailing "/" dropped) and rejects escapes, absolute paths and whitespace', () => {
    const req = validateInput({ ...base, prefixes: { bronze: 'raw/streaming/', gold: 'features/gold' } });
    assert.deepEqual(req.prefixes, { bronze: 'raw/streaming', silver: 'silver', gold: 'features/gold' });
    rejects({ ...base, prefixes: { gold: '../other-lake/gold' } }, 'prefixes.gold', /contains a "\.\." segment/);
    rejects({ ...base, prefixes: { gold: 'gold/../../x' } }, 'prefixes.gold', /"\.\." segment/);
    rejects({ ...base, prefixes: { silver: '..' } }, 'prefixes.silver', /"\.\." segment/);
    rejects({ ...base, prefixes: { bronze: '/etc' } }, 'prefixes.bronze', /must be relative \(no leading "\/"\)/);
    rejects({ ...base, prefixes: { bronze: 'bronze data' } }, 'prefixes.bronze', /whitespace/);
    rejects({ ...base, prefixes: { bronze: '-x' } }, 'prefixes.bronze', /starts with "-"/);
    rejects({ ...base, prefixes: { gold: 'gold\n' } }, 'prefixes.gold', /whitespace or control/);
    rejects({ ...base, prefixes: { silver: '_ledger' } }, 'prefixes.silver', /"_ledger".*the lake's own/);
    rejects({ ...base, prefixes: { gold: 'data/.hidden' } }, 'prefixes.gold', /".hidden"/);
  });

  it('refuses prefixes equal to, inside, or containing another, bronze included (issue 21)', () => {
    rejects(
      { ...base, prefixes: { silver: 'bronze/streaming' } },
      'prefixes.silver',
      /bronze "bronze\/streaming" and silver are the same directory/,
    );
    rejects({ ...base, prefixes: { gold: 'silver' } }, 'prefixes.gold', /same directory/);
    rejects(
      { ...base, prefixes: { silver: 'bronze' } },
      'prefixes.silver',
      /silver "bronze" contains bronze "bronze\/streaming"/,
    );
    rejects(
      { ...base, prefixes: { gold: 'bronze/streaming/gold' } },
      'prefixes.gold',
      /bronze "bronze\/streaming" contains gold "bronze\/streaming\/gold"/,
    );
    rejects(
      { ...base, prefixes: { bronze: 'lake', silver: 'lake/silver', gold: 'gold' } },
      'prefixes.bronze',
      /contains silver/,
    );
    rejects({ ...base, prefixes: { gold: 'silver/' } }, 'prefixes.gold', /same directory/);
    // Siblings sharing a name's start are separate directories.
    const req = validateInput({
      ...base,
      prefixes: { bronze: 'data/bronze', silver: 'data/bronze2', gold: 'data/gold' },
    });
    assert.deepEqual(req.prefixes, { bronze: 'data/bronze', silver: 'data/bronze2', gold: 'data/gold' });
  });

  it('refuses empty and "." segments, absolute paths and ".." in prefixes', () => {
    rejects({ ...base, prefixes: { gold: 'features//gold' } }, 'prefixes.gold', /empty segment/);
    rejects({ ...base, prefixes: { gold: './gold' } }, 'prefixes.gold', /"\." segment/);
    rejects({ ...base, prefixes: { gold: 'a/./gold' } }, 'prefixes.gold', /"\." segment/);
    rejects({ ...base, prefixes: { gold: '/' } }, 'prefixes.gold', /must be relative/);
    rejects({ ...base, prefixes: { gold: 's3://other/gold' } }, 'prefixes.gold', /empty segment|may not hold/);
    rejects({ ...base, prefixes: { gold: 'a,b' } }, 'prefixes.gold', /may not hold/);
    rejects({ ...base, prefixes: { silver: 'x/..' } }, 'prefixes.silver', /"\.\." segment/);
  });

  it('checks sparkConf keys and values: spark.[A-Za-z0-9._-]+, no whitespace, not empty', () => {
    const req = validateInput({
      ...base,
      sparkConf: {
        'spark.executor.memory': '16g',
        'spark.dynamicAllocation.enabled': true,
        'spark.sql.shuffle.partitions': 64,
      },
    });
    assert.deepEqual(req.sparkConf, {
      'spark.executor.memory': '16g',
      'spark.dynamicAllocation.enabled': 'true',
      'spark.sql.shuffle.partitions': '64',
    });
    rejects(
      { ...base, sparkConf: { 'spark.executor memory': '8g' } },
      'sparkConf.spark.executor memory',
      /only letters, digits and \. _ -/,
    );
    rejects({ ...base, sparkConf: { 'spark.a=b': '1' } }, 'sparkConf.spark.a=b', /only letters, digits/);
    rejects({ ...base, sparkConf: { 'spark.': '1' } }, 'sparkConf.spark.', /only letters, digits/);
    rejects(
      { ...base, sparkConf: { 'spark.executor.memory': '8g --conf spark.jars=s3://evil/x.jar' } },
      'sparkConf.spark.executor.memory',
      /whitespace/,
    );
    rejects(
      { ...base, sparkConf: { 'spark.executor.memory': '8g\u0000' } },
      'sparkConf.spark.executor.memory',
      /control characters/,
    );
    rejects({ ...base, sparkConf: { 'spark.executor.memory': '' } }, 'sparkConf.spark.executor.memory', /empty/);
    rejects(
      { ...base, sparkConf: { 'spark.executor.memory': { a: 1 } } },
      'sparkConf.spark.executor.memory',
      /string, number or boolean/,
    );
  });

  const restricted = [
    'spark.jars',
    'spark.jars.packages',
    'spark.jars.repositories',
    'spark.submit.pyFiles',
    'spark.files',
    'spark.archives',
    'spark.pyspark.python',
    'spark.driver.extraJavaOptions',
    'spark.executor.extraJavaOptions',
    'spark.driver.defaultJavaOptions',
    'spark.executor.extraClassPath',
    'spark.driver.extraLibraryPath',
    'spark.executorEnv.PYTHONPATH',
    'spark.yarn.appMasterEnv.LD_PRELOAD',
    'spark.emr-serverless.driverEnv.AWS_ACCESS_KEY_ID',
    'spark.plugins',
    'spark.extraListeners',
    'spark.sql.extensions',
    'spark.sql.catalog.evil',
    'spark.hadoop.fs.s3a.impl',
    'spark.kubernetes.authenticate.driver.serviceAccountName',
    'spark.emr-serverless.executionRoleArn',
    'spark.hadoop.fs.s3a.aws.credentials.provider',
    'spark.hadoop.fs.s3.customAWSCredentialsProvider',
    'spark.hadoop.fs.s3a.assumed.role.arn',
    'spark.hadoop.fs.s3a.access.key',
    'spark.hadoop.fs.s3a.secret.key',
    'spark.hadoop.fs.s3a.session.token',
    'spark.redaction.regex',
    'spark.JARS',
  ];

  // Issue 21: the deny list missed these; an allow list refuses every key it does not name.
  const missedByDenyList = [
    'spark.sql.hive.metastore.jars',
    'spark.sql.hive.metastore.jars.path',
    'spark.executor.plugins',
    'spark.driver.plugins',
    'spark.sql.adaptive.customCostEvaluatorClass',
    'spark.shuffle.manager',
    'spark.serializer',
    'spark.sql.warehouse.dir',
    'spark.some.future.key',
  ];

  it('refuses every key outside the allow list unless the worker allows it, naming the key and BACKFILL_ALLOW_SPARK_CONF', () => {
    for (const key of [...restricted, ...missedByDenyList]) {
      rejects(
        { ...base, sparkConf: { [key]: 'x' } },
        `sparkConf.${key}`,
        new RegExp(`not a tuning key.*BACKFILL_ALLOW_SPARK_CONF=${key.replace(/\./g, '\\.')}`),
      );
    }
  });

  it('accepts the tuning keys users need without any allowance', () => {
    const tuning = {
      'spark.executor.memory': '16g',
      'spark.driver.memory': '8g',
      'spark.executor.cores': '4',
      'spark.driver.cores': '2',
      'spark.executor.instances': '6',
      'spark.executor.memoryOverhead': '2g',
      'spark.driver.memoryOverhead': '1g',
      'spark.sql.shuffle.partitions': '200',
      'spark.sql.adaptive.enabled': 'true',
      'spark.sql.adaptive.coalescePartitions.enabled': 'true',
      'spark.dynamicAllocation.enabled': 'false',
      'spark.dynamicAllocation.maxExecutors': '20',
      'spark.emr-serverless.driver.disk': '50g',
      'spark.emr-serverless.executor.disk': '100g',
    };
    assert.deepEqual(validateInput({ ...base, sparkConf: tuning }).sparkConf, tuning);
  });

  it('accepts every key the allow list names literally (spark.sql.files.maxPartitionBytes holds "file")', () => {
    const literal = ALLOWED_SPARK_CONF.filter((key) => !key.includes('*'));
    assert.ok(literal.includes('spark.sql.files.maxPartitionBytes'));
    const conf = Object.fromEntries(literal.map((key) => [key, '1']));
    assert.deepEqual(validateInput({ ...base, sparkConf: conf }).sparkConf, conf);
  });

  it('refuses values a shell or EMR could split or read as more: quotes, $, ;, |, backslash, over 1024 characters', () => {
    for (const value of ['8g"', "8g'", '`id`', '$(id)', '8g;id', '8g|id', '8g&', 'a\\b', '<x', 'x'.repeat(1025)]) {
      rejects(
        { ...base, sparkConf: { 'spark.executor.memory': value } },
        'sparkConf.spark.executor.memory',
        /may hold only/,
        {
          allowSparkConf: WORKER_DECIDES,
        },
      );
    }
  });

  it('lets other keys through when allowed by key or glob, or when the worker decides', () => {
    const conf = { 'spark.jars.packages': 'org.x:y:1', 'spark.executor.memory': '8g' };
    assert.deepEqual(
      validateInput({ ...base, sparkConf: conf }, { allowSparkConf: ['spark.jars.packages'] }).sparkConf,
      conf,
    );
    rejects({ ...base, sparkConf: { 'spark.jars': 'x.jar' } }, 'sparkConf.spark.jars', /BACKFILL_ALLOW_SPARK_CONF/, {
      allowSparkConf: ['spark.jars.packages'],
    });
    const all = Object.fromEntries(restricted.map((k) => [k, 'x']));
    assert.deepEqual(validateInput({ ...base, sparkConf: all }, { allowSparkConf: ['spark.*'] }).sparkConf, all);
    assert.deepEqual(validateInput({ ...base, sparkConf: all }, { allowSparkConf: WORKER_DECIDES }).sparkConf, all);
    // Malformed keys and values are refused whoever decides.
    rejects({ ...base, sparkConf: { 'spark.jars': 'a b' } }, 'sparkConf.spark.jars', /whitespace/, {
      allowSparkConf: WORKER_DECIDES,
    });
  });

  it('bounds allowedLatenessDays to whole numbers 0..30', () => {
    const early = { ...base, endDate: '2026-09-01', startDate: '2026-08-01' };
    assert.equal(validateInput({ ...early, allowedLatenessDays: 0 }, { now: NOW }).allowedLatenessDays, 0);
    assert.equal(validateInput({ ...early, allowedLatenessDays: 30 }, { now: NOW }).allowedLatenessDays, 30);
    assert.equal(validateInput(early, { now: NOW }).allowedLatenessDays, 1);
    rejects({ ...early, allowedLatenessDays: 31 }, 'allowedLatenessDays', /at most 30, got 31/, { now: NOW });
    rejects({ ...early, allowedLatenessDays: 1e8 }, 'allowedLatenessDays', /at most 30/, { now: NOW });
    rejects({ ...early, allowedLatenessDays: -1 }, 'allowedLatenessDays', /at least 0/, { now: NOW });
    rejects({ ...early, allowedLatenessDays: 1.5 }, 'allowedLatenessDays', /whole number/, { now: NOW });
  });

  it('rejects an end date whose late events may still arrive, unless allowIncompleteDays', () => {
    const at = (endDate: string, extra: Record<string, unknown> = {}) => ({
      ...base,
      startDate: '2026-11-01',
      endDate,
      ...extra,
    });
    // Today 2026-11-26, lateness 1: 11-24's late events land in dt=11-25, complete; 11-25's land today.
    assert.equal(validateInput(at('2026-11-24'), { now: NOW }).endDate, '2026-11-24');
    rejects(
      at('2026-11-25'),
      'endDate',
      /2026-11-25 is after 2026-11-24, .*allowedLatenessDays 1.*today, 2026-11-26 \(UTC\).*allowIncompleteDays: true \(backfill run --allow-incomplete-days\)/,
      { now: NOW },
    );
    rejects(at('2026-11-26'), 'endDate', /is after 2026-11-24/, { now: NOW });
    rejects(at('2099-12-31', { startDate: '2099-12-01' }), 'endDate', /is after 2026-11-24/, { now: NOW });
    // The window follows allowedLatenessDays, and "today" is the UTC day of `now` from its first millisecond.
    assert.equal(validateInput(at('2026-11-25', { allowedLatenessDays: 0 }), { now: NOW }).endDate, '2026-11-25');
    rejects(at('2026-11-26', { allowedLatenessDays: 0 }), 'endDate', /is after 2026-11-25/, {
      now: Date.UTC(2026, 10, 26),
    });
    rejects(at('2026-11-25', { allowedLatenessDays: 0 }), 'endDate', /is after 2026-11-24/, {
      now: Date.UTC(2026, 10, 26) - 1,
    });
    assert.equal(
      validateInput(at('2026-10-26', { allowedLatenessDays: 30, startDate: '2026-10-01' }), { now: NOW }).endDate,
      '2026-10-26',
    );
    rejects(at('2026-10-27', { allowedLatenessDays: 30, startDate: '2026-10-01' }), 'endDate', /is after 2026-10-26/, {
      now: NOW,
    });
    const incomplete = validateInput(at('2026-11-26', { allowIncompleteDays: true }), { now: NOW });
    assert.equal(incomplete.allowIncompleteDays, true);
    assert.equal(validateInput(at('2026-11-24'), { now: NOW }).allowIncompleteDays, false);
    rejects(at('2026-11-24', { allowIncompleteDays: 'yes' }), 'allowIncompleteDays', /true or false/, { now: NOW });
  });

  it('accepts ranges up to 20 years (7305 days) and rejects longer ones', () => {
    assert.equal(MAX_RANGE_DAYS, 7305);
    const req = validateInput({ ...base, startDate: '2000-01-01', endDate: '2019-12-31', chunkSizeDays: 30 });
    assert.equal(planChunks(req.startDate, req.endDate, 1).length, 7305);
    rejects(
      { ...base, startDate: '2000-01-01', endDate: '2020-01-01' },
      'endDate',
      /range of 7306 days exceeds 7305 \(20 years\)/,
    );
  });

  it('takes republish, resumeRunId, jobCodeKey and allowIncompleteDays, with defaults', () => {
    const plain = validateInput(base);
    assert.equal(plain.republish, false);
    assert.equal(plain.allowIncompleteDays, false);
    assert.equal(plain.resumeRunId, undefined);
    assert.equal(plain.jobCodeKey, undefined);
    const req = validateInput({
      ...base,
      republish: true,
      resumeRunId: '3f2a9c1e-7b4d-4e0f-9a1b-2c3d4e5f6a7b',
      jobCodeKey: 'spark_jobs/3f2a9c/backfill_features.py',
    });
    assert.equal(req.republish, true);
    assert.equal(req.resumeRunId, '3f2a9c1e-7b4d-4e0f-9a1b-2c3d4e5f6a7b');
    assert.equal(req.jobCodeKey, 'spark_jobs/3f2a9c/backfill_features.py');
    rejects({ ...base, republish: 1 }, 'republish', /true or false/);
    for (const bad of ['run 1', 'run/1', 'a'.repeat(65), 'run_1'])
      rejects({ ...base, resumeRunId: bad }, 'resumeRunId', /is not a run id/);
    rejects({ ...base, resumeRunId: 7 }, 'resumeRunId', /non-empty string/);
    rejects({ ...base, jobCodeKey: '/spark_jobs/x.py' }, 'jobCodeKey', /no leading "\/"/);
    rejects({ ...base, jobCodeKey: 'spark_jobs/../../x.py' }, 'jobCodeKey', /"\.\." segment/);
    rejects({ ...base, jobCodeKey: 'spark jobs/x.py' }, 'jobCodeKey', /whitespace/);
    rejects({ ...base, jobCodeKey: 'spark_jobs/x.py;rm' }, 'jobCodeKey', /only letters, digits and \. _ \/ -/);
    rejects({ ...base, jobCodeKey: 'spark_jobs/$x.py' }, 'jobCodeKey', /only letters, digits/);
  });

  it('takes a task priority (key 1..5, fairness key up to 64 bytes, weight 0.001..1000), each only when given', () => {
    assert.equal(validateInput(base).priority, undefined, 'no priority: the workflow applies the defaults');
    const priority = { priorityKey: 5, fairnessKey: 'team-risk', fairnessWeight: 0.5 };
    assert.deepEqual(validateInput({ ...base, priority }).priority, priority);
    assert.deepEqual(validateInput({ ...base, priority: { priorityKey: 1 } }).priority, { priorityKey: 1 });
    for (const bad of [0, 6, 2.5, '4'])
      rejects(
        { ...base, priority: { priorityKey: bad } },
        'priority.priorityKey',
        /whole number from 1 \(first\) to 5/,
      );
    for (const bad of ['', ' ', 'k'.repeat(65), 'é'.repeat(33), 7])
      rejects({ ...base, priority: { fairnessKey: bad } }, 'priority.fairnessKey', /at most 64 bytes/);
    for (const bad of [0, 0.0005, 1001, Infinity, '2'])
      rejects({ ...base, priority: { fairnessWeight: bad } }, 'priority.fairnessWeight', /from 0.001 to 1000/);
    rejects({ ...base, priority: { priority: 2 } }, 'priority.priority', /unknown field/);
    rejects({ ...base, priority: 4 }, 'priority', /must be an object/);
  });

  it("defaults a backfill's priority to 4 keyed by its workflow id, a long id shortened to 64 bytes with a hash", () => {
    assert.deepEqual(taskPriorityOf(undefined, 'backfill-v1'), { priorityKey: 4, fairnessKey: 'backfill-v1' });
    assert.deepEqual(taskPriorityOf({ fairnessWeight: 2 }, 'b'), {
      priorityKey: 4,
      fairnessKey: 'b',
      fairnessWeight: 2,
    });
    assert.deepEqual(taskPriorityOf({ priorityKey: 2, fairnessKey: 'k' }, 'b'), { priorityKey: 2, fairnessKey: 'k' });
    const long = `backfill-rt_card_features_v1-${'x'.repeat(60)}`;
    const a = fairnessKeyOf(`${long}-a`);
    const b = fairnessKeyOf(`${long}-b`);
    assert.equal(a.length, 64);
    assert.ok(a.startsWith('backfill-rt_card_features_v1-') && a !== b, `${a} vs ${b}`);
    assert.equal(fairnessKeyOf(`${long}-a`), a, 'stable');
  });
});

describe('worker allowances (checked by the preflight activity)', () => {
  const role = 'arn:aws:iam::123456789012:role/backfill-emr';
  const request = (extra: Record<string, unknown>) =>
    validateInput({ ...base, ...extra }, { allowSparkConf: WORKER_DECIDES });

  it('reads BACKFILL_ALLOW_SPARK_CONF and BACKFILL_ALLOWED_JOB_ROLES as comma-separated lists', () => {
    assert.deepEqual(workerAllowances({}), { sparkConf: [], jobRoles: undefined });
    assert.deepEqual(workerAllowances({ BACKFILL_ALLOWED_JOB_ROLES: ' ' }), { sparkConf: [], jobRoles: undefined });
    assert.deepEqual(
      workerAllowances({
        BACKFILL_ALLOW_SPARK_CONF: 'spark.jars.packages, spark.executorEnv.*',
        BACKFILL_ALLOWED_JOB_ROLES: `${role},arn:aws:iam::*:role/bf-*`,
      }),
      { sparkConf: ['spark.jars.packages', 'spark.executorEnv.*'], jobRoles: [role, 'arn:aws:iam::*:role/bf-*'] },
    );
  });

  it('refuses restricted sparkConf keys the worker does not allow, and job roles outside its glob patterns', () => {
    const conf = request({
      sparkConf: { 'spark.jars.packages': 'org.x:y:1', 'spark.executorEnv.TZ': 'UTC', 'spark.executor.memory': '8g' },
    });
    assert.throws(
      () => checkWorkerAllowances(conf, { sparkConf: [] }),
      /invalid input: sparkConf\.spark\.jars\.packages: .*BACKFILL_ALLOW_SPARK_CONF/,
    );
    assert.throws(
      () => checkWorkerAllowances(conf, { sparkConf: ['spark.jars.packages'] }),
      /sparkConf\.spark\.executorEnv\.TZ/,
    );
    checkWorkerAllowances(conf, { sparkConf: ['spark.jars.packages', 'spark.executorEnv.*'] });
    const emr = request({ emr: { appId: 'app', jobRole: role } });
    checkWorkerAllowances(emr, { sparkConf: [] });
    checkWorkerAllowances(emr, { sparkConf: [], jobRoles: ['arn:aws:iam::123456789012:role/backfill-*'] });
    checkWorkerAllowances(emr, { sparkConf: [], jobRoles: ['arn:aws:iam::*:role/backfill-??r'] });
    assert.throws(
      () => checkWorkerAllowances(emr, { sparkConf: [], jobRoles: ['arn:aws:iam::123456789012:role/etl-*'] }),
      (err: unknown) =>
        err instanceof InputError &&
        err.field === 'emr.jobRole' &&
        /"arn:aws:iam::123456789012:role\/backfill-emr" is not allowed by this worker: BACKFILL_ALLOWED_JOB_ROLES allows arn:aws:iam::123456789012:role\/etl-\*/.test(
          err.message,
        ),
    );
    // A pattern matches the whole role: a prefix of it is not enough.
    assert.throws(
      () => checkWorkerAllowances(emr, { sparkConf: [], jobRoles: ['arn:aws:iam::123456789012:role/backfill'] }),
      /emr\.jobRole/,
    );
  });

  describe('the generic preflight activity', () => {
    const saved = { spark: process.env.BACKFILL_ALLOW_SPARK_CONF, roles: process.env.BACKFILL_ALLOWED_JOB_ROLES };
    let dir: string;
    let activities: ReturnType<typeof createActivities>;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'preflight-'));
      fs.mkdirSync(path.join(dir, 'lake'));
      const backends = createLocalBackends({ venvBin: '/nonexistent', jobDir: '/nonexistent', stateDir: dir });
      activities = createActivities(backends);
    });
    afterEach(() => {
      for (const [name, value] of [
        ['BACKFILL_ALLOW_SPARK_CONF', saved.spark],
        ['BACKFILL_ALLOWED_JOB_ROLES', saved.roles],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    async function failure(req: ReturnType<typeof request>): Promise<ApplicationFailure> {
      const err = await activities.preflight(req).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
      assert.equal(err.type, 'InvalidInput');
      assert.equal(err.nonRetryable, true);
      return err;
    }

    it('rejects a restricted key unless BACKFILL_ALLOW_SPARK_CONF allows it', async () => {
      delete process.env.BACKFILL_ALLOW_SPARK_CONF;
      const req = request({ bucket: path.join(dir, 'lake'), sparkConf: { 'spark.jars': 's3://evil/x.jar' } });
      assert.match(
        (await failure(req)).message,
        /^invalid input: sparkConf\.spark\.jars: .*BACKFILL_ALLOW_SPARK_CONF=spark\.jars/,
      );
      process.env.BACKFILL_ALLOW_SPARK_CONF = 'spark.files,spark.jars*';
      assert.deepEqual(await activities.preflight(req), { backend: 'local', publication: { sparkPublish: true } });
    });

    it('rejects an emr.jobRole outside BACKFILL_ALLOWED_JOB_ROLES', async () => {
      const req = request({ bucket: path.join(dir, 'lake'), emr: { appId: 'app', jobRole: role } });
      assert.deepEqual(
        await activities.preflight(req),
        { backend: 'local', publication: { sparkPublish: true } },
        'no allow-list: any role',
      );
      process.env.BACKFILL_ALLOWED_JOB_ROLES = 'arn:aws:iam::123456789012:role/etl-*';
      assert.match((await failure(req)).message, /^invalid input: emr\.jobRole: .*BACKFILL_ALLOWED_JOB_ROLES/);
      process.env.BACKFILL_ALLOWED_JOB_ROLES =
        'arn:aws:iam::123456789012:role/etl-*, arn:aws:iam::123456789012:role/backfill-*';
      assert.deepEqual(await activities.preflight(req), { backend: 'local', publication: { sparkPublish: true } });
    });
  });
});

describe('planChunks', () => {
  it('splits a range into chunks oldest first, the last one shorter', () => {
    const chunks = planChunks('2025-10-01', '2025-10-07', 3);
    assert.deepEqual(
      chunks.map((c) => [c.startDate, c.endDate, c.days]),
      [
        ['2025-10-01', '2025-10-03', 3],
        ['2025-10-04', '2025-10-06', 3],
        ['2025-10-07', '2025-10-07', 1],
      ],
    );
    assert.deepEqual(
      chunks.map((c) => c.index),
      [0, 1, 2],
    );
    assert.equal(chunks[0].id, '2025-10-01_2025-10-03');
  });
  it('crosses month and leap-year boundaries', () => {
    const chunks = planChunks('2024-02-27', '2024-03-02', 2);
    assert.deepEqual(
      chunks.map((c) => c.id),
      ['2024-02-27_2024-02-28', '2024-02-29_2024-03-01', '2024-03-02_2024-03-02'],
    );
  });
  it('plans one chunk per day over three years', () => {
    assert.equal(planChunks('2022-01-01', '2024-12-31', 1).length, 1096);
  });
});
