/**
 * Every AWS call the code makes in the tests, as IAM sees it: an SDK middleware on the clients the
 * tests build records the command, the IAM action(s) it needs and the resource ARN(s), and who sent
 * it (the first frame of our own code: src/ is the code under test, test/ is fixture setup). Each
 * call goes to `recordedCalls` (this process) and to `.state/aws-calls/<pid>.jsonl` (for reading
 * after a run); test/aws/iam-simulation.test.ts evaluates them against deploy/iam/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

// Not imported from moto.ts, which imports this module.
const ROOT = path.resolve(__dirname, '..', '..');
/** moto's account (moto.ts ACCOUNT): the account of every ARN the tests' calls name. */
const ACCOUNT = '123456789012';

/** One IAM request: an action on a resource, with the condition keys IAM would see. */
export interface IamRequest {
  action: string;
  resource: string;
  context?: Record<string, string>;
  /** Why this request is needed when it is not the command's own action. */
  note?: string;
}

export interface RecordedCall {
  /** e.g. S3Client */
  client: string;
  /** e.g. GetObject */
  command: string;
  /** The file and line of ours that sent it (repository-relative), or "unknown". */
  caller: string;
  requests: IamRequest[];
  /** Why the command has no IAM mapping here (see iamRequests). */
  unmapped?: string;
}

export const recordedCalls: RecordedCall[] = [];

const STATE_DIR = path.join(ROOT, '.state', 'aws-calls');

interface Stackable {
  config: { region: unknown };
  middlewareStack: { add(mw: unknown, options: Record<string, unknown>): void };
}

/** Adds the recording middleware to `client` (once) and returns it. */
export function recordAwsCalls<T>(client: T): T {
  const c = client as unknown as Stackable & { __recorded?: boolean };
  if (c.__recorded) return client;
  c.__recorded = true;
  c.middlewareStack.add(
    (next: (a: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        // Taken before the first await: the stack still holds the caller of send().
        const caller = callerOf(new Error().stack ?? '');
        const region = await regionOf(c);
        const command = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const clientName = context.clientName ?? 'Unknown';
        const call: RecordedCall = { client: clientName, command, caller, requests: [] };
        try {
          call.requests = iamRequests(clientName, command, args.input, { region, account: ACCOUNT });
        } catch (err) {
          // Fixture setup (CreateBucket, ...) needs no mapping; a command of the code does (the IAM test checks).
          call.unmapped = (err as Error).message;
        }
        recordedCalls.push(call);
        writeCall(call);
        return next(args);
      },
    { step: 'initialize', name: 'recordAwsCalls', priority: 'high' },
  );
  return client;
}

async function regionOf(c: Stackable): Promise<string> {
  const r = c.config.region;
  return typeof r === 'function' ? String(await (r as () => Promise<string>)()) : String(r);
}

function callerOf(stack: string): string {
  for (const line of stack.split('\n').slice(1)) {
    const m = /\(?((?:\/|[A-Za-z]:)[^():]+):(\d+):\d+\)?$/.exec(line.trim());
    if (!m || m[1].includes('node_modules') || m[1].endsWith(`${path.sep}aws-calls.ts`)) continue;
    if (!m[1].startsWith(ROOT)) continue;
    return `${path.relative(ROOT, m[1])}:${m[2]}`;
  }
  return 'unknown';
}

let stateReady = false;
function writeCall(call: RecordedCall): void {
  if (!stateReady) {
    fs.mkdirSync(STATE_DIR, { recursive: true });
    stateReady = true;
  }
  fs.appendFileSync(path.join(STATE_DIR, `${process.pid}.jsonl`), JSON.stringify(call) + '\n');
}

/** Calls sent by the code under test (src/), not by a test's fixture setup or the operator's CLI. */
export function codeCalls(calls: RecordedCall[] = recordedCalls): RecordedCall[] {
  return calls.filter((c) => c.caller.startsWith('src/') && !c.caller.startsWith('src/client/'));
}

interface Where {
  region: string;
  account: string;
}

const s3Object = (bucket: unknown, key: unknown) => `arn:aws:s3:::${String(bucket)}/${String(key)}`;
const s3Bucket = (bucket: unknown) => `arn:aws:s3:::${String(bucket)}`;

/**
 * The IAM requests one SDK command makes (Service Authorization Reference): its action(s) and the
 * ARN(s) of the resources it names. An unmapped command is an error, so a new one is never missed.
 */
export function iamRequests(client: string, command: string, input: Record<string, unknown>, w: Where): IamRequest[] {
  switch (client) {
    case 'S3Client':
      return s3Requests(command, input);
    case 'GlueClient':
      return glueRequests(command, input, w);
    case 'EMRServerlessClient':
      return emrRequests(command, input, w);
    case 'SageMakerClient':
      // The control plane calls the code makes (DescribeFeatureGroup) name a feature group.
      return [{ action: `sagemaker:${command}`, resource: featureGroupArn(input.FeatureGroupName, w) }];
    case 'SageMakerFeatureStoreRuntimeClient':
      return featureStoreRequests(command, input, w);
    case 'CloudWatchClient':
      // PutMetricData has no resource-level permissions; the namespace is a condition key.
      return [
        {
          action: `cloudwatch:${command}`,
          resource: '*',
          context: { 'cloudwatch:namespace': String(input.Namespace) },
        },
      ];
    default:
      throw new Error(`aws-calls.ts: no IAM mapping for client ${client} (${command})`);
  }
}

function s3Requests(command: string, input: Record<string, unknown>): IamRequest[] {
  const { Bucket, Key } = input;
  // Without s3:ListBucket, S3 answers a missing key with 403 instead of 404: the code reads a
  // missing object as "not there" (LATEST, the connector jar, ledger records), so it needs both.
  const missingIs404: IamRequest = {
    action: 's3:ListBucket',
    resource: s3Bucket(Bucket),
    note: 'a missing key answers 404 (not 403) only with s3:ListBucket',
  };
  switch (command) {
    case 'GetObject':
    case 'HeadObject':
      return [{ action: 's3:GetObject', resource: s3Object(Bucket, Key) }, missingIs404];
    case 'PutObject':
      // Conditional writes (If-Match / If-None-Match) need no other action than s3:PutObject.
      return [{ action: 's3:PutObject', resource: s3Object(Bucket, Key) }];
    case 'DeleteObject':
      return [{ action: 's3:DeleteObject', resource: s3Object(Bucket, Key) }];
    case 'DeleteObjects': {
      const objects = ((input.Delete as { Objects?: { Key?: string }[] })?.Objects ?? []).map((o) => o.Key);
      return objects.map((k) => ({ action: 's3:DeleteObject', resource: s3Object(Bucket, k) }));
    }
    case 'ListObjectsV2':
    case 'ListObjects':
      return [
        { action: 's3:ListBucket', resource: s3Bucket(Bucket), context: { 's3:prefix': String(input.Prefix ?? '') } },
      ];
    case 'HeadBucket':
      return [{ action: 's3:ListBucket', resource: s3Bucket(Bucket) }];
    case 'CopyObject': {
      const source = String(input.CopySource).replace(/^\//, '');
      return [
        { action: 's3:GetObject', resource: `arn:aws:s3:::${decodeURIComponent(source)}` },
        { action: 's3:PutObject', resource: s3Object(Bucket, Key) },
      ];
    }
    default:
      throw new Error(`aws-calls.ts: no IAM mapping for S3 ${command}`);
  }
}

function glueRequests(command: string, input: Record<string, unknown>, w: Where): IamRequest[] {
  const base = `arn:aws:glue:${w.region}:${w.account}`;
  const catalog = `${base}:catalog`;
  const on = (resources: string[]) => resources.map((resource) => ({ action: `glue:${command}`, resource }));
  switch (command) {
    case 'GetCrawler':
    case 'StartCrawler':
      return on([`${base}:crawler/${String(input.Name)}`]);
    case 'GetDatabase':
      return on([catalog, `${base}:database/${String(input.Name)}`]);
    case 'CreateDatabase':
      return on([catalog, `${base}:database/${String((input.DatabaseInput as { Name: string }).Name)}`]);
    default: {
      // Table-level calls: the catalog, the database and the table they name (GetTable: Name).
      const db = String(input.DatabaseName);
      const named = command === 'GetTable' ? input.Name : input.TableName;
      const table = String(named ?? (input.TableInput as { Name?: string } | undefined)?.Name);
      return on([catalog, `${base}:database/${db}`, `${base}:table/${db}/${table}`]);
    }
  }
}

function emrRequests(command: string, input: Record<string, unknown>, w: Where): IamRequest[] {
  const app = `arn:aws:emr-serverless:${w.region}:${w.account}:/applications/${String(input.applicationId)}`;
  switch (command) {
    case 'GetApplication':
    case 'ListJobRuns':
      return [{ action: `emr-serverless:${command}`, resource: app }];
    case 'StartJobRun': {
      const out: IamRequest[] = [{ action: 'emr-serverless:StartJobRun', resource: app }];
      // Tags on create are authorized as TagResource on the new run (its id is not known yet).
      if (input.tags && Object.keys(input.tags).length > 0)
        out.push({
          action: 'emr-serverless:TagResource',
          resource: `${app}/jobruns/new-run`,
          note: 'tags on StartJobRun',
        });
      out.push({
        action: 'iam:PassRole',
        resource: String(input.executionRoleArn),
        context: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' },
        note: 'the job role handed to the run',
      });
      return out;
    }
    case 'GetJobRun':
    case 'CancelJobRun':
      return [{ action: `emr-serverless:${command}`, resource: `${app}/jobruns/${String(input.jobRunId)}` }];
    default:
      throw new Error(`aws-calls.ts: no IAM mapping for EMR Serverless ${command}`);
  }
}

function featureStoreRequests(command: string, input: Record<string, unknown>, w: Where): IamRequest[] {
  if (command === 'BatchWriteRecord') {
    const groups = new Set(((input.Entries as { FeatureGroupName?: string }[]) ?? []).map((e) => e.FeatureGroupName));
    // BatchWriteRecord is authorized as both BatchWriteRecord and PutRecord on each group.
    return [...groups].flatMap((g) => [
      { action: 'sagemaker:BatchWriteRecord', resource: featureGroupArn(g, w) },
      { action: 'sagemaker:PutRecord', resource: featureGroupArn(g, w), note: 'BatchWriteRecord needs PutRecord' },
    ]);
  }
  return [{ action: `sagemaker:${command}`, resource: featureGroupArn(input.FeatureGroupName, w) }];
}

/** A feature group's ARN from its name or ARN (IAM compares the name in lower case). */
export function featureGroupArn(nameOrArn: unknown, w: Where): string {
  const s = String(nameOrArn);
  if (s.startsWith('arn:'))
    return s.replace(/feature-group\/(.*)$/, (_m, n: string) => `feature-group/${n.toLowerCase()}`);
  return `arn:aws:sagemaker:${w.region}:${w.account}:feature-group/${s.toLowerCase()}`;
}
