/**
 * deploy/iam/worker-policy.json against the code: every AWS SDK command the worker can send (read
 * from the source of everything src/worker.ts imports: `new XxxCommand(` and `paginateXxx(`) needs
 * its IAM action in the policy, and the policy grants no action that no command needs. Also: both
 * policies are scoped by documented placeholders only, and PassRole is limited to the job role.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './moto';
import { importClosure, sdkCalls, type SdkCall } from './iam-source';
import { placeholders, renderTemplate } from './templates';

/** S3 commands whose IAM action is not named like the API (Service Authorization Reference). */
const S3_ACTIONS: Record<string, string[]> = {
  GetObject: ['s3:GetObject'],
  HeadObject: ['s3:GetObject'],
  PutObject: ['s3:PutObject'],
  ListObjectsV2: ['s3:ListBucket'],
  ListObjects: ['s3:ListBucket'],
  HeadBucket: ['s3:ListBucket'],
  DeleteObject: ['s3:DeleteObject'],
  DeleteObjects: ['s3:DeleteObject'],
  CopyObject: ['s3:GetObject', 's3:PutObject'],
};

/** The IAM actions one command needs. */
export function iamActions(call: SdkCall): string[] {
  switch (call.pkg) {
    case 'client-emr-serverless':
      // The runner tags its runs (emr.ts: tags on StartJobRun; tagging on create needs TagResource)
      // and passes emr.jobRole as the execution role.
      if (call.command === 'StartJobRun')
        return ['emr-serverless:StartJobRun', 'emr-serverless:TagResource', 'iam:PassRole'];
      return [`emr-serverless:${call.command}`];
    case 'client-glue':
      return [`glue:${call.command}`];
    case 'client-s3': {
      const actions = S3_ACTIONS[call.command];
      assert.ok(
        actions,
        `${call.file}: S3 ${call.command} is new here: add its IAM action to S3_ACTIONS (and the policy)`,
      );
      return actions;
    }
    case 'client-sagemaker':
      return [`sagemaker:${call.command}`];
    case 'client-cloudwatch':
      return [`cloudwatch:${call.command}`];
    case 'client-sagemaker-featurestore-runtime':
      // The runtime's actions carry the sagemaker prefix; BatchWriteRecord needs PutRecord as well.
      if (call.command === 'BatchWriteRecord') return ['sagemaker:BatchWriteRecord', 'sagemaker:PutRecord'];
      return [`sagemaker:${call.command}`];
    default:
      assert.fail(
        `${call.file}: ${call.pkg} is a new AWS client: map its commands to IAM actions here and grant them in deploy/iam/worker-policy.json`,
      );
  }
}

/** Every template under deploy/iam. */
const POLICY_FILES = fs.readdirSync(path.join(ROOT, 'deploy', 'iam')).filter((f) => f.endsWith('.json'));

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}
const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);

function policy(file: string): { text: string; statements: Statement[] } {
  const text = fs.readFileSync(path.join(ROOT, 'deploy', 'iam', file), 'utf8');
  return { text, statements: (JSON.parse(text) as { Statement: Statement[] }).Statement };
}

describe('IAM: deploy/iam policies against the code', () => {
  const workerFiles = importClosure(path.join(ROOT, 'src', 'worker.ts'));
  const calls = workerFiles.flatMap(sdkCalls);
  const needed = new Map<string, string[]>();
  for (const call of calls)
    for (const action of iamActions(call))
      needed.set(action, [...(needed.get(action) ?? []), `${call.command} (${call.file})`]);

  it('reads the worker code: the AWS backends and their SDK commands are in it', () => {
    assert.ok(workerFiles.some((f) => f.endsWith(path.join('activities', 'aws', 'emr.ts'))));
    const commands = new Set(calls.map((c) => c.command));
    for (const c of [
      'StartJobRun',
      'GetJobRun',
      'GetApplication',
      'ListObjectsV2',
      'BatchWriteRecord',
      'DescribeFeatureGroup',
      'StartCrawler',
    ]) {
      assert.ok(commands.has(c), `${c} not found in the worker's source`);
    }
  });

  it('the worker policy grants every action the worker needs, and nothing else', () => {
    const { statements } = policy('worker-policy.json');
    const granted = new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)));
    const missing = [...needed.keys()]
      .filter((a) => !granted.has(a))
      .map((a) => `${a} for ${needed.get(a)!.join(', ')}`);
    assert.deepEqual(missing, [], 'deploy/iam/worker-policy.json lacks these actions');
    const unused = [...granted].filter((a) => !needed.has(a));
    assert.deepEqual(unused, [], 'deploy/iam/worker-policy.json grants actions no command of the worker needs');
  });

  it('scopes every statement to named resources, and passes only the job role, only to EMR Serverless', () => {
    for (const file of POLICY_FILES) {
      for (const s of policy(file).statements) {
        assert.equal(s.Effect, 'Allow', `${file} ${s.Sid}`);
        for (const action of list(s.Action))
          assert.ok(!action.includes('*'), `${file} ${s.Sid}: wildcard action ${action}`);
        // PutMetricData has no resource-level permissions: "*" there, narrowed to our namespace by a condition.
        if (list(s.Action).join() === 'cloudwatch:PutMetricData') {
          assert.deepEqual(
            [s.Resource, s.Condition],
            ['*', { StringEquals: { 'cloudwatch:namespace': '${CloudWatchNamespace}' } }],
          );
          continue;
        }
        for (const r of list(s.Resource))
          assert.match(r, /\$\{[A-Za-z]+\}/, `${file} ${s.Sid}: resource ${r} is not scoped by a placeholder`);
      }
    }
    const passRole = policy('worker-policy.json').statements.filter((s) => list(s.Action).includes('iam:PassRole'));
    assert.equal(passRole.length, 1);
    assert.deepEqual(list(passRole[0].Action), ['iam:PassRole'], 'PassRole in a statement of its own');
    assert.deepEqual(list(passRole[0].Resource), ['${JobRoleArn}']);
    assert.deepEqual(passRole[0].Condition, {
      StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' },
    });
  });

  it('uses only placeholders docs/aws.md explains, and renders to valid policies', () => {
    const docs = fs.readFileSync(path.join(ROOT, 'docs', 'aws.md'), 'utf8');
    const values: Record<string, string> = {
      Region: 'eu-west-1',
      AccountId: '123456789012',
      Bucket: 'lake',
      CodeBucket: 'code',
      CodePrefix: 'spark_jobs',
      LogBucket: 'logs',
      LogPrefix: 'emr',
      EmrApplicationArn: 'arn:aws:emr-serverless:eu-west-1:123456789012:/applications/00abc',
      JobRoleArn: 'arn:aws:iam::123456789012:role/BackfillEmrJob',
      CrawlerName: 'gold-crawler',
      GlueDatabase: 'gold',
      GlueTable: 'card_features',
      FeatureGroupArn: 'arn:aws:sagemaker:eu-west-1:123456789012:feature-group/rt_card_features_v1',
      CloudWatchNamespace: 'P1Unified',
      OfflineStoreBucket: 'offline',
      OfflineStorePrefix: 'feature-store',
      FeatureStoreRoleArn: 'arn:aws:iam::123456789012:role/FeatureStoreOffline',
      OfflineStoreGlueDatabase: 'sagemaker_featurestore',
      OfflineStoreGlueTable: 'rt_card_features_v1_1760000000',
    };
    for (const file of POLICY_FILES.map((f) => `iam/${f}`)) {
      const text = fs.readFileSync(path.join(ROOT, 'deploy', file), 'utf8');
      for (const p of placeholders(text))
        assert.ok(
          docs.includes('${' + p + '}'),
          `deploy/${file}: placeholder \${${p}} is not explained in docs/aws.md`,
        );
      const rendered = JSON.stringify(renderTemplate(file, values));
      assert.ok(!rendered.includes('${'), rendered);
    }
  });
});
