/**
 * The AWS preflight against moto (EMR Serverless applications, Glue crawler, SageMaker feature
 * groups) and the wire-level doubles for what moto cannot do (application states it never takes,
 * a missing feature group, group statuses, paged definitions, outages, denied calls).
 */
import {
  CreateApplicationCommand,
  DeleteApplicationCommand,
  StopApplicationCommand,
} from '@aws-sdk/client-emr-serverless';
import { CreateCrawlerCommand, CreateDatabaseCommand } from '@aws-sdk/client-glue';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { DEFAULT_CODE_PREFIX, uploadJobCode } from '../../src/activities/aws/job-code';
import { packageJob } from '../../src/client/commands/deploy-job';
import {
  CreateFeatureGroupCommand,
  SageMakerClient,
  type CreateFeatureGroupCommandInput,
} from '@aws-sdk/client-sagemaker';
import * as assert from 'node:assert/strict';
import { createAwsBackends, type AwsBackends, type AwsClients } from '../../src/activities/aws';
import type { BackfillInput } from '../../src/common/input';
import { EmrDouble } from './emr-double';
import { awsError } from './http-double';
import { ACCOUNT, FAKE_CREDENTIALS, motoClients, REGION, startMoto, type Moto } from './moto';
import { SageMakerDouble, type DoubleFeatureGroup } from './sagemaker-double';
import { awsRequest, JOB_ROLE, rejectsFinal, rejectsRetryable } from './support';
import { renderTemplate } from './templates';
import { planPublication } from '../../src/common/publication-plan';
import { FEATURE_GROUP_KEYS, FEATURE_STORE_TYPES, RECORD_FEATURES } from '../../src/common/lake-contract';

/** deploy/feature-group.json as docs/aws.md has the operator create it. */
function featureGroupInput(name: string): CreateFeatureGroupCommandInput {
  return renderTemplate('feature-group.json', {
    FeatureGroupName: name,
    OfflineStoreS3Uri: 's3://lake/feature-store-offline',
    FeatureStoreRoleArn: `arn:aws:iam::${ACCOUNT}:role/FeatureStoreOffline`,
  }) as CreateFeatureGroupCommandInput;
}

const GROUP = 'rt_card_features_v1';

describe('aws: preflight checks every resource a backfill needs, before any work', function () {
  let moto: Moto;
  let clients: AwsClients;
  let appId: string;
  const request = (overrides: BackfillInput = {}) =>
    awsRequest({ bucket: 'lake', featureGroup: GROUP, emr: { appId, jobRole: JOB_ROLE }, ...overrides });
  const backends = (extra: Partial<AwsClients> = {}, mode: 'crawler' | 'partitions' = 'crawler'): AwsBackends =>
    createAwsBackends({ ...clients, ...extra }, { catalogMode: mode });

  before(async () => {
    moto = await startMoto();
    const m = motoClients(moto.endpoint);
    clients = { ...m, featureStore: {} as never }; // preflight writes no record
    appId = (
      await m.emr.send(new CreateApplicationCommand({ name: 'backfill', releaseLabel: 'emr-7.5.0', type: 'SPARK' }))
    ).applicationId!;
    await m.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'gold' } }));
    await m.glue.send(
      new CreateCrawlerCommand({
        Name: 'gold-crawler',
        Role: `arn:aws:iam::${ACCOUNT}:role/G`,
        DatabaseName: 'gold',
        Targets: { S3Targets: [{ Path: 's3://lake/gold/' }] },
      }),
    );
    await m.sagemaker.send(new CreateFeatureGroupCommand(featureGroupInput(GROUP)));
    // The job code, deployed as `backfill deploy-job` does (preflight resolves and checks its key).
    await m.s3.send(new CreateBucketCommand({ Bucket: 'code-bucket' }));
    const pkg = packageJob();
    await uploadJobCode(m.s3, {
      codeBucket: 'code-bucket',
      prefix: DEFAULT_CODE_PREFIX,
      entryPoint: pkg.entryPoint,
      pyPackage: pkg.pyPackage,
      hash: pkg.hash,
    });
  });
  after(async () => {
    await moto?.stop();
  });

  it('passes a complete setup: Spark application, crawler, and the feature group of deploy/feature-group.json (moto)', async () => {
    await backends().preflight!(request());
    // Partitions mode needs no crawler.
    await backends({}, 'partitions').preflight!(request({ glue: undefined }));
  });

  it("reads the publication facts: the group's online TTL (the default horizon), its ARN, and no connector jar (SageMaker double)", async () => {
    // moto's DescribeFeatureGroup leaves OnlineStoreConfig out: the double answers it.
    const double = new SageMakerDouble();
    await double.start();
    try {
      const sagemaker = new SageMakerClient({
        region: REGION,
        endpoint: double.endpoint,
        credentials: FAKE_CREDENTIALS,
        maxAttempts: 1,
      });
      const input = featureGroupInput('ttl_group');
      double.groups.set('ttl_group', {
        RecordIdentifierFeatureName: input.RecordIdentifierFeatureName!,
        EventTimeFeatureName: input.EventTimeFeatureName!,
        FeatureDefinitions: input.FeatureDefinitions!,
        OnlineStoreConfig: { EnableOnlineStore: true, TtlDuration: { Unit: 'Hours', Value: 60 } },
      });
      const out = await backends({ sagemaker }).preflight!(request({ featureGroup: 'ttl_group' }));
      const facts = out?.publication;
      assert.equal(facts?.onlineTtlDays, 3);
      assert.match(facts?.offlineStore ?? '', /^sagemaker:arn:aws:sagemaker:.*:feature-group\/ttl_group$/);
      assert.equal(facts?.sparkPublish, false, 'deploy-job ran without --connector-jar');
      assert.match(facts?.sparkPublishProblem ?? '', /connector jar is not deployed/);
    } finally {
      await double.stop();
    }
  });

  it("reads the offline store's table format: an Iceberg group's history goes through the API, and a forced Spark path is refused (SageMaker double)", async () => {
    const double = new SageMakerDouble();
    await double.start();
    try {
      const sagemaker = new SageMakerClient({
        region: REGION,
        endpoint: double.endpoint,
        credentials: FAKE_CREDENTIALS,
        maxAttempts: 1,
      });
      // A code version with the connector jar beside it: only the table format decides.
      const pkg = packageJob();
      const jobCodeKey = await uploadJobCode(clients.s3, {
        codeBucket: 'code-bucket',
        prefix: 'with-connector',
        entryPoint: pkg.entryPoint,
        pyPackage: pkg.pyPackage,
        hash: pkg.hash,
        connectorJar: new Uint8Array([0x50, 0x4b, 0x03, 0x04]),
      });
      const input = featureGroupInput('g');
      const group = (TableFormat?: string): DoubleFeatureGroup => ({
        RecordIdentifierFeatureName: input.RecordIdentifierFeatureName!,
        EventTimeFeatureName: input.EventTimeFeatureName!,
        FeatureDefinitions: input.FeatureDefinitions!,
        OfflineStoreConfig: {
          S3StorageConfig: { S3Uri: 's3://lake/offline' },
          ...(TableFormat ? { TableFormat } : {}),
        },
      });
      double.groups.set('iceberg_group', group('Iceberg'));
      double.groups.set('glue_group', group('Glue'));
      double.groups.set('default_group', group());
      const preflight = (name: string, extra: BackfillInput = {}) =>
        backends({ sagemaker }).preflight!(request({ featureGroup: name, jobCodeKey, ...extra }));
      const planOf = (facts: Parameters<typeof planPublication>[1]) =>
        planPublication(
          { startDate: '2025-10-01', endDate: '2025-10-09', now: Date.parse('2026-01-01T00:00:00Z') },
          facts,
        );

      const iceberg = (await preflight('iceberg_group'))!.publication!;
      assert.equal(iceberg.offlineTableFormat, 'Iceberg');
      const plan = planOf(iceberg);
      assert.equal(plan.offlineWith, 'api');
      assert.match(plan.offlineWithReason, /^offline store table format Iceberg: .*Glue \(Hive\) layout/);
      for (const name of ['glue_group', 'default_group']) {
        const facts = (await preflight(name))!.publication!;
        assert.equal(facts.offlineTableFormat, 'Glue', `${name}: unset is SageMaker's default, Glue`);
        assert.equal(planOf(facts).offlineWith, 'spark', name);
      }

      const refused =
        /^publishWith: --publish-with spark cannot publish feature group "iceberg_group": its offline store table format is Iceberg; .*Use --publish-with api/;
      await rejectsFinal(preflight('iceberg_group', { publishWith: 'spark' }), 'InvalidInput', refused);
      // The dry run says so too, before anything is planned.
      await rejectsFinal(
        preflight('iceberg_group', { publishWith: 'spark', dryRun: true, emr: undefined, glue: undefined }),
        'InvalidInput',
        refused,
      );
      await preflight('iceberg_group', { publishWith: 'api' });
      await preflight('glue_group', { publishWith: 'spark' });
    } finally {
      await double.stop();
    }
  });

  it('refuses an EMR application that cannot take jobs, naming it and its state (moto)', async () => {
    const { emr } = clients;
    const create = async (input: Partial<ConstructorParameters<typeof CreateApplicationCommand>[0]> = {}) =>
      (
        await emr.send(
          new CreateApplicationCommand({ name: 'other', releaseLabel: 'emr-7.5.0', type: 'SPARK', ...input }),
        )
      ).applicationId!;

    await rejectsFinal(
      backends().preflight!(request({ emr: { appId: 'no-such-app', jobRole: JOB_ROLE } })),
      'InvalidInput',
      /^emr\.appId: EMR Serverless application no-such-app does not exist/,
    );
    const hive = await create({ type: 'HIVE' });
    await rejectsFinal(
      backends().preflight!(request({ emr: { appId: hive, jobRole: JOB_ROLE } })),
      'InvalidInput',
      new RegExp(`^emr\\.appId: .*${hive} is of type Hive, not Spark`),
    );

    // STOPPED starts itself on StartJobRun (auto-start, EMR's default) ...
    const stopped = await create();
    await emr.send(new StopApplicationCommand({ applicationId: stopped }));
    await backends().preflight!(request({ emr: { appId: stopped, jobRole: JOB_ROLE } }));
    // ... unless auto-start is off.
    const manual = await create({ autoStartConfiguration: { enabled: false } });
    await emr.send(new StopApplicationCommand({ applicationId: manual }));
    await rejectsFinal(
      backends().preflight!(request({ emr: { appId: manual, jobRole: JOB_ROLE } })),
      'InvalidInput',
      new RegExp(
        `^emr\\.appId: .*${manual} is STOPPED with auto-start disabled.*start-application --application-id ${manual}`,
      ),
    );
    await emr.send(new DeleteApplicationCommand({ applicationId: manual }));
    await rejectsFinal(
      backends().preflight!(request({ emr: { appId: manual, jobRole: JOB_ROLE } })),
      'InvalidInput',
      new RegExp(`${manual} is TERMINATED and takes no job`),
    );
  });

  it('refuses an application in a state moto never shows (CREATING, STARTING), and retries an EMR outage (EMR double)', async () => {
    const double = new EmrDouble();
    await double.start();
    try {
      const emr = double.client();
      for (const state of ['CREATING', 'STARTING', 'STOPPING']) {
        double.applications.set('app-1', { state, type: 'Spark' });
        await rejectsFinal(
          backends({ emr }).preflight!(request({ emr: { appId: 'app-1', jobRole: JOB_ROLE } })),
          'InvalidInput',
          new RegExp(`app-1 is ${state}, not ready for jobs`),
        );
      }
      double.applications.set('app-1', { state: 'CREATED', type: 'Spark' });
      await backends({ emr }).preflight!(request({ emr: { appId: 'app-1', jobRole: JOB_ROLE } }));
      // An outage is not bad input: the activity's retry policy gets another go.
      double.faults.push(awsError(503, 'ServiceUnavailableException', 'Service is unavailable'));
      await rejectsRetryable(
        backends({ emr }).preflight!(request({ emr: { appId: 'app-1', jobRole: JOB_ROLE } })),
        /EMR GetApplication app-1 failed: ServiceUnavailableException/,
      );
      double.faults.push(
        awsError(403, 'AccessDeniedException', 'not authorized to perform: emr-serverless:GetApplication'),
      );
      await rejectsFinal(
        backends({ emr }).preflight!(request({ emr: { appId: 'app-1', jobRole: JOB_ROLE } })),
        'AwsAccessDenied',
        /needs emr-serverless:GetApplication \(deploy\/iam\/worker-policy\.json\)/,
      );
    } finally {
      await double.stop();
    }
  });

  it('refuses a missing crawler in crawler mode (moto)', async () => {
    await rejectsFinal(
      backends().preflight!(request({ glue: { crawlerName: 'nope' } })),
      'InvalidInput',
      /^glue\.crawlerName: crawler "nope" does not exist.*BACKFILL_CATALOG_MODE=partitions/,
    );
  });

  it('refuses a feature group whose definitions do not fit the records, naming each difference (moto)', async () => {
    const input = featureGroupInput('wrong_group');
    input.RecordIdentifierFeatureName = 'event_id';
    input.FeatureDefinitions = input
      .FeatureDefinitions!.filter((d) => d.FeatureName !== 'merchant_count_24h')
      .map((d) => (d.FeatureName === 'amount_sum_24h' ? { ...d, FeatureType: 'Integral' } : d));
    await clients.sagemaker.send(new CreateFeatureGroupCommand(input));
    const err = await rejectsFinal(
      backends().preflight!(request({ featureGroup: 'wrong_group' })),
      'InvalidInput',
      /^featureGroup: feature group "wrong_group" does not fit the records/,
    );
    assert.match(err.message, /record identifier is "event_id", the records use "card_id"/);
    assert.match(err.message, /feature "amount_sum_24h" is Integral, the records send Fractional/);
    assert.match(err.message, /feature "merchant_count_24h" \(Integral\) is not defined/);
    assert.doesNotMatch(err.message, /txn_count_1h/);
  });

  it("checks the group against the contract's features and Feature Store types: a group with only the identifier and event time misses every other one, named with its type (moto)", async () => {
    const input = featureGroupInput('bare_group');
    const keys = [FEATURE_GROUP_KEYS.recordIdentifier, FEATURE_GROUP_KEYS.eventTime];
    input.FeatureDefinitions = input.FeatureDefinitions!.filter((d) => keys.includes(d.FeatureName!));
    await clients.sagemaker.send(new CreateFeatureGroupCommand(input));
    const err = await rejectsFinal(
      backends().preflight!(request({ featureGroup: 'bare_group' })),
      'InvalidInput',
      /^featureGroup: feature group "bare_group" does not fit the records/,
    );
    const missing = [...err.message.matchAll(/feature "(\w+)" \((\w+)\) is not defined/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      missing,
      RECORD_FEATURES.filter((f) => !keys.includes(f)).map((f) => [f, FEATURE_STORE_TYPES[f]]),
    );
  });

  it('refuses a missing or unfinished feature group, reads every page of definitions, and retries an outage (SageMaker double)', async () => {
    const double = new SageMakerDouble(3);
    await double.start();
    try {
      const sagemaker = new SageMakerClient({
        region: REGION,
        endpoint: double.endpoint,
        credentials: FAKE_CREDENTIALS,
        maxAttempts: 1,
      });
      const run = (name: string) => backends({ sagemaker }).preflight!(request({ featureGroup: name }));
      await rejectsFinal(
        run('missing'),
        'InvalidInput',
        /^featureGroup: feature group "missing" does not exist in this account\/region/,
      );

      const input = featureGroupInput('g');
      const group: DoubleFeatureGroup = {
        RecordIdentifierFeatureName: input.RecordIdentifierFeatureName!,
        EventTimeFeatureName: input.EventTimeFeatureName!,
        FeatureDefinitions: input.FeatureDefinitions!,
      };
      // Eight definitions at three a page: the last ones are only on the third page.
      double.groups.set('g', group);
      const before = double.calls.length;
      await run('g');
      assert.deepEqual(double.calls.slice(before), [
        'DescribeFeatureGroup',
        'DescribeFeatureGroup',
        'DescribeFeatureGroup',
      ]);

      double.groups.set('g', { ...group, FeatureGroupStatus: 'Creating' });
      await rejectsFinal(run('g'), 'InvalidInput', /"g" is Creating, not Created: wait until it is Created/);
      double.groups.set('g', {
        ...group,
        FeatureGroupStatus: 'CreateFailed',
        FailureReason: 'offline store bucket not found',
      });
      await rejectsFinal(
        run('g'),
        'InvalidInput',
        /"g" is CreateFailed \(offline store bucket not found\), not Created/,
      );
      double.groups.set('g', {
        ...group,
        FeatureDefinitions: group.FeatureDefinitions.map((d) =>
          d.FeatureName === 'event_id' ? { ...d, CollectionType: 'List' } : d,
        ),
      });
      await rejectsFinal(run('g'), 'InvalidInput', /feature "event_id" is a List collection/);

      double.groups.set('g', group);
      double.faults.push(awsError(500, 'InternalFailure', 'An internal error occurred'));
      await rejectsRetryable(run('g'), /SageMaker DescribeFeatureGroup g failed: InternalFailure/);
      double.faults.push(
        awsError(400, 'AccessDeniedException', 'not authorized to perform: sagemaker:DescribeFeatureGroup'),
      );
      await rejectsFinal(run('g'), 'AwsAccessDenied', /needs sagemaker:DescribeFeatureGroup/);

      // A dry run checks nothing; it only reads the group's online TTL (the default horizon), and a
      // missing group leaves the default.
      const calls = double.calls.length;
      const dry = await backends({ sagemaker }).preflight!(
        request({ featureGroup: 'missing', dryRun: true, emr: undefined, glue: undefined }),
      );
      assert.deepEqual(double.calls.slice(calls), ['DescribeFeatureGroup']);
      assert.equal(dry?.publication?.onlineTtlDays, undefined);
    } finally {
      await double.stop();
    }
  });
});
