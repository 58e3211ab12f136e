/**
 * The IAM side of test/aws/iam-simulation.test.ts: the deploy/iam templates filled in as docs/aws.md
 * says, each IAM request evaluated with an IAM policy simulator (@cloud-copilot/iam-simulate), the
 * Spark job's S3 paths turned into IAM requests, and the policies linted with parliament.
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { IamRequest } from './aws-calls';
import { ACCOUNT, REGION, ROOT } from './moto';
import { renderTemplate } from './templates';

export const WORKER_ROLE = `arn:aws:iam::${ACCOUNT}:role/BackfillWorker`;

/** A request with what made it, for the failure message. */
export interface Need extends IamRequest {
  /** The command and the code that sent it, or the Spark job's reason. */
  by: string;
}

/** Outcome of one request: 'Allowed', 'ImplicitlyDenied', 'ExplicitlyDenied', or a simulator error. */
export async function simulate(
  need: IamRequest,
  o: { identity?: unknown[]; resourcePolicy?: unknown; principal: string },
): Promise<string> {
  const simulation = {
    identityPolicies: (o.identity ?? []).map((policy, i) => ({ name: `p${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: o.resourcePolicy,
    request: {
      action: need.action,
      principal: o.principal,
      resource: { resource: need.resource, accountId: ACCOUNT },
      contextVariables: need.context ?? {},
    },
  } as unknown as Simulation;
  const out = await runSimulation(simulation, {});
  if (out.resultType === 'error') return `simulator error: ${JSON.stringify(out.errors)}`;
  return out.overallResult;
}

/** Every request the policies do not allow, as "action resource (by)"; empty when all are allowed. */
export async function denied(
  needs: Need[],
  o: { identity?: unknown[]; resourcePolicy?: unknown; principal: string },
): Promise<string[]> {
  const out = new Set<string>();
  for (const need of needs) {
    const result = await simulate(need, o);
    if (result !== 'Allowed') {
      const ctx = need.context ? ` ${JSON.stringify(need.context)}` : '';
      out.add(`${result}: ${need.action} ${need.resource}${ctx} (${need.by}${need.note ? `; ${need.note}` : ''})`);
    }
  }
  return [...out].sort();
}

/** deploy/<file> filled in with `values`. */
export function policy(file: string, values: Record<string, string>): unknown {
  return renderTemplate(file, values);
}

/** s3://bucket/key -> bucket, key */
function s3Parts(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

const objectArn = (uri: string) => {
  const { bucket, key } = s3Parts(uri);
  return `arn:aws:s3:::${bucket}/${key}`;
};

/** IAM requests of an S3 access by the Spark job (S3A/EMRFS): reads, writes, deletes and listings. */
export function s3Needs(access: { action: string; uri: string; why: string }, by: string): Need[] {
  const { bucket, key } = s3Parts(access.uri);
  const list: Need = {
    action: 's3:ListBucket',
    resource: `arn:aws:s3:::${bucket}`,
    context: { 's3:prefix': access.action === 'list' ? `${key}/` : key },
    by: `${by}: ${access.why}`,
  };
  switch (access.action) {
    case 'list':
      return [list];
    case 'read':
      // The file systems check existence (HEAD, LIST) before reading; a missing path answers 404 only with ListBucket.
      return [{ action: 's3:GetObject', resource: objectArn(access.uri), by: `${by}: ${access.why}` }, list];
    case 'write':
      return [
        { action: 's3:PutObject', resource: objectArn(access.uri), by: `${by}: ${access.why}` },
        // A large file goes up in parts; a failed upload is aborted.
        { action: 's3:AbortMultipartUpload', resource: objectArn(access.uri), by: `${by}: ${access.why}` },
        list,
      ];
    case 'delete':
      return [{ action: 's3:DeleteObject', resource: objectArn(access.uri), by: `${by}: ${access.why}` }, list];
    default:
      throw new Error(`unknown access ${access.action}`);
  }
}

/** The Spark job's S3 accesses for its arguments, from its own path functions (test/aws/iam_job_paths.py). */
export function jobPaths(args: string[]): { action: string; uri: string; why: string }[] {
  const out = spawnSync(path.join(ROOT, '.venv', 'bin', 'python'), [path.join(__dirname, 'iam_job_paths.py')], {
    input: JSON.stringify(args),
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`iam_job_paths.py failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as { action: string; uri: string; why: string }[];
}

export interface Finding {
  issue: string;
  severity: string;
  title: string;
  detail: unknown;
}

const SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

/** parliament's findings on a filled-in policy at `minimum` severity or above. */
export function parliament(policyJson: unknown, minimum = 'MEDIUM'): Finding[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parliament-'));
  const file = path.join(dir, 'policy.json');
  fs.writeFileSync(file, JSON.stringify(policyJson, null, 2));
  try {
    // --files, not --file: --file also reads stdin and refuses when stdin is not a terminal.
    const out = spawnSync(path.join(ROOT, '.venv', 'bin', 'parliament'), ['--files', file, '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (out.status !== 0 && out.status !== 1) throw new Error(`parliament failed (${out.status}): ${out.stderr}`);
    const findings = out.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Finding);
    return findings.filter((f) => SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(minimum));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const IAM_REGION = REGION;
