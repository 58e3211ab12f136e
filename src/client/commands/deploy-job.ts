/**
 * `backfill deploy-job`: packages the Spark job (spark_jobs/backfill_features.py and the
 * card_features package as a reproducible zip) and uploads both to the code bucket under a
 * content-hashed key, then points `<prefix>/LATEST` at it. Backfills started afterwards run this
 * code; running ones keep the key they started with.
 */
import { ApplicationFailure } from '@temporalio/common';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createAwsClientsFromEnv } from '../../activities/aws';
import {
  DEFAULT_CODE_PREFIX,
  ENTRY_POINT_FILE,
  JOB_CODE_KEY_PATTERN,
  LATEST_FILE,
  PACKAGE_FILE,
  uploadJobCode,
} from '../../activities/aws/job-code';
import { localPaths, projectRoot } from '../../config';
import { EXIT, type CliDeps, type Io } from '../io';
import { parseFlags, UsageError, wantsHelp } from '../usage';
import { FAILURE } from '../../common/failures';

const DEPLOY_JOB_HELP = `Usage: backfill deploy-job --code-bucket BUCKET [--prefix PREFIX]

Package the Spark job and upload it for EMR Serverless: spark_jobs/backfill_features.py and
card_features.zip (the card_features package: its .py files, definitions.json and contract.json, built
reproducibly: the same sources give the same bytes and the same key) go to
s3://BUCKET/PREFIX/<sha256-12>/, and s3://BUCKET/PREFIX/LATEST is set to that key, which is printed.

Backfills started afterwards use the latest deployed key (resolved once per backfill, so a running
backfill keeps its code); the workflow input field "jobCodeKey" pins another one.

Options:
  --code-bucket BUCKET   the code bucket (the backfill's codeBucket)
  --connector-jar PATH   also upload the SageMaker Feature Store Spark connector's jar (from the PyPI
                         sdist sagemaker-feature-store-pyspark-3.3: deps/jars/sagemaker-feature-store-spark-sdk.jar),
                         passed to jobs that publish offline-only days to the offline store (docs/aws.md)
  --prefix PREFIX        key prefix of the deployed versions; the worker's BACKFILL_CODE_PREFIX
                         must be the same (default: $BACKFILL_CODE_PREFIX or ${DEFAULT_CODE_PREFIX})
  -h, --help             this help

AWS settings: AWS_REGION, credentials and endpoints from the standard AWS environment.
Exit codes: 0 deployed, 1 packaging or upload failed, 2 bad usage.`;

export interface JobPackage {
  entryPoint: Buffer;
  pyPackage: Buffer;
  /** First 12 hex digits of the sha256 over both files: the version's key. */
  hash: string;
  files: number;
}

/** Builds the two objects from a spark_jobs folder with scripts/package_job.py (Python's zipfile). */
export function packageJob(jobDir = localPaths().jobDir): JobPackage {
  const venvPython = path.join(localPaths().venvBin, 'python');
  const python = fs.existsSync(venvPython) ? venvPython : 'python3';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-deploy-'));
  try {
    const out = path.join(tmp, PACKAGE_FILE);
    const files = Number(
      execFileSync(python, [path.join(projectRoot(), 'scripts', 'package_job.py'), '--job-dir', jobDir, '--out', out], {
        encoding: 'utf8',
      }).trim(),
    );
    const entryPoint = fs.readFileSync(path.join(jobDir, ENTRY_POINT_FILE));
    const pyPackage = fs.readFileSync(out);
    const digest = createHash('sha256');
    for (const [name, bytes] of [
      [ENTRY_POINT_FILE, entryPoint],
      [PACKAGE_FILE, pyPackage],
    ] as const) {
      digest.update(`${name}\n${bytes.length}\n`).update(bytes);
    }
    return { entryPoint, pyPackage, hash: digest.digest('hex').slice(0, 12), files };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function deployJobCommand(argv: string[], io: Io, deps: CliDeps = {}): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(DEPLOY_JOB_HELP);
    return EXIT.ok;
  }
  const { values } = parseFlags('deploy-job', argv, {
    'code-bucket': { type: 'string' },
    prefix: { type: 'string' },
    'connector-jar': { type: 'string' },
  });
  const codeBucket = values['code-bucket'];
  if (!codeBucket) throw new UsageError('--code-bucket BUCKET is required; see backfill deploy-job --help');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(codeBucket))
    throw new UsageError(`--code-bucket: "${codeBucket}" is not an S3 bucket name`);
  const prefix = (values.prefix ?? process.env.BACKFILL_CODE_PREFIX ?? DEFAULT_CODE_PREFIX).replace(/^\/+|\/+$/g, '');
  if (!JOB_CODE_KEY_PATTERN.test(prefix))
    throw new UsageError(`--prefix: "${prefix}" is not a key prefix (letters, digits, . _ - /; no "..")`);
  let s3;
  try {
    s3 = deps.awsClients ? deps.awsClients().s3 : createAwsClientsFromEnv().s3;
  } catch (err) {
    throw new UsageError(`AWS settings: ${(err as Error).message}`);
  }

  const connectorJar = readConnectorJar(values['connector-jar']);
  const pkg = packageJob();
  // The jar is part of the version: a new jar is a new key, so running backfills keep theirs.
  const hash = connectorJar
    ? createHash('sha256').update(pkg.hash).update(connectorJar).digest('hex').slice(0, 12)
    : pkg.hash;
  io.err(
    `packaged ${ENTRY_POINT_FILE} and ${PACKAGE_FILE} (${pkg.files} files, ${pkg.pyPackage.length} bytes), version ${pkg.hash}`,
  );
  let key: string;
  try {
    key = await uploadJobCode(s3, {
      codeBucket,
      prefix,
      entryPoint: pkg.entryPoint,
      pyPackage: pkg.pyPackage,
      hash,
      connectorJar,
    });
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === FAILURE.invalidInput)
      throw new UsageError(`--code-bucket ${codeBucket}: ${err.message}`);
    io.err(`backfill: deploy-job: ${(err as Error).message}`);
    return EXIT.failed;
  }
  io.err(
    `uploaded s3://${codeBucket}/${key}/${ENTRY_POINT_FILE} and ${PACKAGE_FILE}; s3://${codeBucket}/${prefix}/${LATEST_FILE} now names it`,
  );
  io.out(key);
  return EXIT.ok;
}

/** The connector jar's bytes, checked to be a jar (zip), or undefined when not asked for. */
function readConnectorJar(file: string | undefined): Uint8Array | undefined {
  if (file === undefined) return undefined;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`--connector-jar: cannot read ${file}: ${(err as Error).message}`);
  }
  if (bytes.length < 4 || bytes.readUInt32LE(0) !== 0x04034b50)
    throw new UsageError(`--connector-jar: ${file} is not a jar (no zip header)`);
  return bytes;
}
