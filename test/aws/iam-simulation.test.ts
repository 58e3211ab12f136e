/**
 * IAM as tested code. The flows of a real AWS backfill run here against moto and the doubles
 * (iam-flows.ts) with every SDK call recorded (aws-calls.ts: action and resource ARN); the Spark
 * job's S3 paths come from its own path functions for the arguments the worker gave it
 * (iam_job_paths.py). Each call is evaluated with an IAM policy simulator against the deploy/iam
 * templates filled in as docs/aws.md says: any implicit or explicit deny fails the test, naming the
 * action, the resource and the code that needs it. Both policies are linted with parliament.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { codeCalls, recordedCalls, type IamRequest } from './aws-calls';
import { denied, jobPaths, parliament, policy, s3Needs, WORKER_ROLE, type Need } from './iam-evaluate';
import { NAMES, runFlows, type FlowResult } from './iam-flows';
import { importClosure, sdkCalls } from './iam-source';
import { ACCOUNT, REGION, ROOT, startMoto, type Moto } from './moto';
import { JOB_ROLE } from './support';

/** The placeholders of deploy/iam/*.json as an operator fills them in for the deployment of iam-flows.ts. */
export function policyValues(group: FlowResult['group']): Record<string, string> {
  const offline = /^s3:\/\/([^/]+)\/(.*?)\/?$/.exec(group.offlineStoreS3Uri)!;
  return {
    Region: REGION,
    AccountId: ACCOUNT,
    Bucket: NAMES.bucket,
    CodeBucket: NAMES.codeBucket,
    CodePrefix: 'jobs/card-features',
    LogBucket: 'logs',
    LogPrefix: 'emr',
    EmrApplicationArn: `arn:aws:emr-serverless:${REGION}:${ACCOUNT}:/applications/${NAMES.appId}`,
    JobRoleArn: JOB_ROLE,
    CrawlerName: NAMES.crawler,
    GlueDatabase: NAMES.glueDatabase,
    GlueTable: NAMES.glueTable,
    FeatureGroupArn: group.arn.replace(/feature-group\/(.*)$/, (_m, n: string) => `feature-group/${n.toLowerCase()}`),
    CloudWatchNamespace: 'P1Unified',
    OfflineStoreBucket: offline[1],
    OfflineStorePrefix: offline[2],
    FeatureStoreRoleArn: NAMES.featureStoreRole,
    OfflineStoreGlueDatabase: 'sagemaker_featurestore',
    OfflineStoreGlueTable: `${NAMES.group}_1760000000`,
  };
}

/** The SDK client class each @aws-sdk package's commands are sent with (the recorder names the client). */
const CLIENT_OF_PACKAGE: Record<string, string> = {
  'client-s3': 'S3Client',
  'client-glue': 'GlueClient',
  'client-emr-serverless': 'EMRServerlessClient',
  'client-sagemaker': 'SageMakerClient',
  'client-sagemaker-featurestore-runtime': 'SageMakerFeatureStoreRuntimeClient',
  'client-cloudwatch': 'CloudWatchClient',
};

const codeNeeds = (): Need[] =>
  codeCalls().flatMap((c) => c.requests.map((r: IamRequest) => ({ ...r, by: `${c.command} from ${c.caller}` })));

/** `s3://b/k` references in the job driver: entry point, --py-files, --jars. */
function codeUris(run: FlowResult['runs'][number]): string[] {
  const driver = run.jobDriver as { sparkSubmit: { entryPoint: string; sparkSubmitParameters?: string } };
  const params = driver.sparkSubmit.sparkSubmitParameters ?? '';
  return [driver.sparkSubmit.entryPoint, ...(params.match(/s3:\/\/[^\s,]+/g) ?? [])];
}

/** Where SageMaker keeps a group's offline files (ResolvedOutputS3Uri; moto leaves it out). */
function offlineData(flow: FlowResult): string {
  return (
    flow.group.resolvedOutputS3Uri ??
    `${flow.group.offlineStoreS3Uri}/${ACCOUNT}/sagemaker/${REGION}/offline-store/${NAMES.group}-1760000000/data`
  );
}

/** What the job role does for each run: the code, the logs, the job's paths, the Glue default database, the connector. */
function jobNeeds(flow: FlowResult): Need[] {
  const needs: Need[] = [];
  const glue = `arn:aws:glue:${REGION}:${ACCOUNT}`;
  for (const run of flow.runs) {
    const by = `job run ${run.jobRunId}`;
    for (const uri of codeUris(run)) needs.push(...s3Needs({ action: 'read', uri, why: 'job code' }, by));
    const logUri = (
      run.configurationOverrides as { monitoringConfiguration?: { s3MonitoringConfiguration?: { logUri?: string } } }
    )?.monitoringConfiguration?.s3MonitoringConfiguration?.logUri;
    // EMR's log uploader writes the logs as the job role: puts only, nothing is read or listed.
    if (logUri) {
      const key = `${logUri}/applications/${run.applicationId}/jobs/${run.jobRunId}/SPARK_DRIVER/stdout.gz`;
      needs.push({ action: 's3:PutObject', resource: key.replace(/^s3:\/\//, 'arn:aws:s3:::'), by: `${by}: logs` });
    }
    for (const resource of [`${glue}:catalog`, `${glue}:database/default`])
      needs.push({ action: 'glue:GetDatabase', resource, by: `${by}: EMR's Glue metastore client at session start` });
    const args =
      (run.jobDriver as { sparkSubmit: { entryPointArguments?: string[] } }).sparkSubmit.entryPointArguments ?? [];
    if (args.length === 0) continue;
    for (const access of jobPaths(args)) needs.push(...s3Needs(access, by));
    const store = args[args.indexOf('--offline-store') + 1];
    if (args.includes('--offline-store') && store.startsWith('sagemaker:'))
      needs.push(...connectorNeeds(flow, store.slice(10), by));
  }
  return needs;
}

/** The Feature Store connector, offline store only, Glue table format: describe the group, append parquet files. */
function connectorNeeds(flow: FlowResult, arn: string, by: string): Need[] {
  const data = offlineData(flow);
  const file = `${data}/year=2025/month=10/day=01/hour=00/part-00000.parquet`;
  const temp = `${data}/_temporary/0/_temporary/attempt_0/year=2025/month=10/day=01/hour=00/part-00000.parquet`;
  const why = (w: string) => `connector: ${w}`;
  return [
    {
      action: 'sagemaker:DescribeFeatureGroup',
      resource: arn.replace(/feature-group\/(.*)$/, (_m, n: string) => `feature-group/${n.toLowerCase()}`),
      by: `${by}: ${why('DescribeFeatureGroup')}`,
    },
    ...s3Needs({ action: 'write', uri: temp, why: why('committer temporary file') }, by),
    ...s3Needs({ action: 'read', uri: temp, why: why('committer rename (copy)') }, by),
    ...s3Needs({ action: 'delete', uri: temp, why: why('committer rename (delete)') }, by),
    ...s3Needs({ action: 'write', uri: file, why: why('offline store file') }, by),
    ...s3Needs({ action: 'list', uri: data, why: why('output directory') }, by),
  ];
}

/** The connector's Iceberg path (an Iceberg group): Glue table read and commit, data and metadata files. */
function icebergNeeds(values: Record<string, string>, flow: FlowResult): Need[] {
  const glue = `arn:aws:glue:${REGION}:${ACCOUNT}`;
  const table = `${flow.group.offlineStoreS3Uri}/${ACCOUNT}/sagemaker/${REGION}/offline-store/${values.OfflineStoreGlueTable}`;
  const by = 'connector, Iceberg table';
  const resources = [
    `${glue}:catalog`,
    `${glue}:database/${values.OfflineStoreGlueDatabase}`,
    `${glue}:table/${values.OfflineStoreGlueDatabase}/${values.OfflineStoreGlueTable}`,
  ];
  return [
    ...['glue:GetTable', 'glue:UpdateTable'].flatMap((action) =>
      resources.map((resource) => ({ action, resource, by: `${by}: load and commit` })),
    ),
    ...s3Needs({ action: 'read', uri: `${table}/metadata/00001-a.metadata.json`, why: 'current metadata' }, by),
    ...s3Needs({ action: 'write', uri: `${table}/metadata/00002-b.metadata.json`, why: 'new metadata' }, by),
    ...s3Needs({ action: 'write', uri: `${table}/metadata/snap-1.avro`, why: 'manifest list' }, by),
    ...s3Needs({ action: 'write', uri: `${table}/data/part-00000.parquet`, why: 'data file' }, by),
  ];
}

/** SageMaker writing the offline store as the group's role (RoleArn), gated by the bucket policy. */
function sageMakerNeeds(flow: FlowResult): Need[] {
  const file = `${offlineData(flow)}/year=2025/month=10/day=01/hour=00/x.parquet`.replace(/^s3:\/\//, 'arn:aws:s3:::');
  const bucket = file.replace(/^(arn:aws:s3:::[^/]+).*$/, '$1');
  const by = 'SageMaker Feature Store offline store replication';
  return [
    { action: 's3:PutObject', resource: file, by },
    { action: 's3:PutObjectAcl', resource: file, by },
    { action: 's3:GetBucketAcl', resource: bucket, by },
  ];
}

describe('IAM: the calls of a real run, simulated against the shipped policies', function () {
  let moto: Moto;
  let flow: FlowResult;
  let values: Record<string, string>;

  before(async () => {
    moto = await startMoto();
    // Only this test's flows: other files run in the same process (npx mocha a b) record calls of their own.
    recordedCalls.length = 0;
    flow = await runFlows(moto);
    values = policyValues(flow.group);
  });
  after(async () => moto?.stop());

  it('records every AWS call the worker code sends: each SDK command of its source was seen', () => {
    const seen = new Set(codeCalls().map((c) => `${c.client}.${c.command}`));
    const source = importClosure(path.join(ROOT, 'src', 'worker.ts')).flatMap(sdkCalls);
    const missing = [...new Set(source.map((c) => `${CLIENT_OF_PACKAGE[c.pkg] ?? c.pkg}.${c.command}`))].filter(
      (c) => !seen.has(c),
    );
    assert.deepEqual(missing, [], 'commands of the worker no flow of iam-flows.ts sent');
    // The flows did the work, not only the calls: 120 gold rows a day sent by batch, then day 1 again by PutRecord.
    assert.equal(flow.recordsWritten, 360);
    assert.ok(
      recordedCalls.some((c) => c.caller.startsWith('test/')),
      "fixture calls are recorded as the test's",
    );
  });

  it('the worker policy allows every call the worker made', async () => {
    assert.deepEqual(
      codeCalls()
        .filter((c) => c.unmapped)
        .map((c) => c.unmapped),
      [],
      'map these commands in aws-calls.ts',
    );
    const needs = codeNeeds();
    assert.ok(needs.length > 50, `only ${needs.length} requests recorded`);
    const denies = await denied(needs, {
      identity: [policy('iam/worker-policy.json', values)],
      principal: WORKER_ROLE,
    });
    assert.deepEqual(denies, [], `deploy/iam/worker-policy.json denies:\n${denies.join('\n')}`);
  });

  it('can fail: without one statement, the calls that need it are denied and named', async () => {
    const full = policy('iam/worker-policy.json', values) as { Statement: { Sid: string }[] };
    const without = { ...full, Statement: full.Statement.filter((s) => s.Sid !== 'ReadTheJobCode') };
    const denies = await denied(codeNeeds(), { identity: [without], principal: WORKER_ROLE });
    assert.ok(
      denies.some((d) =>
        d.startsWith(
          'ImplicitlyDenied: s3:GetObject arn:aws:s3:::code-bucket/jobs/card-features/LATEST (GetObject from src/activities/aws/job-code.ts',
        ),
      ),
      denies.join('\n'),
    );
  });

  it('the EMR job role policy allows every S3 path, Glue and SageMaker call of the Spark job and its connector', async () => {
    const needs = jobNeeds(flow);
    assert.ok(
      flow.runs.some((r) => JSON.stringify(r.jobDriver).includes('--offline-store')),
      'a run publishes offline',
    );
    const denies = await denied(needs, {
      identity: [policy('iam/emr-job-role-policy.json', values)],
      principal: JOB_ROLE,
    });
    assert.deepEqual(denies, [], `deploy/iam/emr-job-role-policy.json denies:\n${denies.join('\n')}`);
  });

  it("with the Iceberg add-on, the job role allows the connector's Iceberg commit", async () => {
    const identity = [
      policy('iam/emr-job-role-policy.json', values),
      policy('iam/emr-job-role-iceberg-policy.json', values),
    ];
    const denies = await denied(icebergNeeds(values, flow), { identity, principal: JOB_ROLE });
    assert.deepEqual(denies, [], `the Iceberg add-on denies:\n${denies.join('\n')}`);
  });

  it("the offline store bucket policy lets SageMaker (as the group's role) and the connector (as the job role) write it", async () => {
    const resourcePolicy = policy('iam/offline-store-bucket-policy.json', values);
    const sageMaker = await denied(sageMakerNeeds(flow), { resourcePolicy, principal: NAMES.featureStoreRole });
    const bucket = `arn:aws:s3:::${values.OfflineStoreBucket}`;
    const connector = jobNeeds(flow).filter((n) => n.resource === bucket || n.resource.startsWith(`${bucket}/`));
    assert.ok(connector.length > 0);
    const job = await denied(connector, { resourcePolicy, principal: JOB_ROLE });
    const denies = [...sageMaker, ...job];
    assert.deepEqual(denies, [], `deploy/iam/offline-store-bucket-policy.json denies:\n${denies.join('\n')}`);
  });

  it('parliament finds nothing of severity MEDIUM or above in any policy', () => {
    for (const file of [
      'iam/worker-policy.json',
      'iam/emr-job-role-policy.json',
      'iam/emr-job-role-iceberg-policy.json',
      'iam/offline-store-bucket-policy.json',
    ]) {
      const findings = parliament(policy(file, values));
      assert.deepEqual(findings, [], `deploy/${file}: ${JSON.stringify(findings, null, 1)}`);
    }
  });
});
