/**
 * The deployed Spark job code in the code bucket. `backfill deploy-job` uploads the entry point and
 * the card_features package under a content-hashed key prefix, `<prefix>/<sha256-12>/`, and writes
 * that key prefix into `<prefix>/LATEST`. A backfill resolves the key once (preflight) and keeps
 * it, so deploying a new version never changes the code of a running backfill.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/activity';
import { awsErrorName, classifyAwsError, httpStatus } from './errors';
import { FAILURE } from '../../common/failures';

/** Where deploy-job puts the code, and where the worker looks for LATEST (BACKFILL_CODE_PREFIX). */
export const DEFAULT_CODE_PREFIX = 'jobs/card-features';
export const ENTRY_POINT_FILE = 'backfill_features.py';
export const PACKAGE_FILE = 'card_features.zip';
export const LATEST_FILE = 'LATEST';
/**
 * The SageMaker Feature Store Spark connector's jar (PyPI sagemaker-feature-store-pyspark-3.3 ships it
 * as deps/jars/sagemaker-feature-store-spark-sdk.jar), uploaded by `deploy-job --connector-jar` beside
 * the code and passed to jobs that publish offline (`--jars`): nothing is downloaded at run time.
 */
export const CONNECTOR_JAR_FILE = 'jars/sagemaker-feature-store-spark-sdk.jar';

export function connectorJarUri(codeBucket: string, jobCodeKey: string): string {
  return `s3://${codeBucket}/${jobCodeKey}/${CONNECTOR_JAR_FILE}`;
}

/** Whether the deployed code has the connector jar beside it (HeadObject); false when it is missing. */
export async function connectorJarDeployed(s3: S3Client, codeBucket: string, jobCodeKey: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: codeBucket, Key: `${jobCodeKey}/${CONNECTOR_JAR_FILE}` }));
    return true;
  } catch (err) {
    if (awsErrorName(err) === 'NotFound' || awsErrorName(err) === 'NoSuchKey' || httpStatus(err) === 404) return false;
    throw classifyAwsError(err, `S3 HeadObject ${connectorJarUri(codeBucket, jobCodeKey)}`);
  }
}

/** A job code key as deploy-job writes it: a relative S3 key prefix, no whitespace, no "..". */
export const JOB_CODE_KEY_PATTERN = /^(?!\/)(?!.*\.\.)[A-Za-z0-9._\-/]+[A-Za-z0-9._-]$/;

export function jobCodeUris(codeBucket: string, jobCodeKey: string): { entryPoint: string; pyFiles: string } {
  return {
    entryPoint: `s3://${codeBucket}/${jobCodeKey}/${ENTRY_POINT_FILE}`,
    pyFiles: `s3://${codeBucket}/${jobCodeKey}/${PACKAGE_FILE}`,
  };
}

const invalid = (message: string) => ApplicationFailure.nonRetryable(message, FAILURE.invalidInput);
const deployHint = (codeBucket: string, prefix: string) =>
  `run \`npx backfill deploy-job --code-bucket ${codeBucket}${prefix === DEFAULT_CODE_PREFIX ? '' : ` --prefix ${prefix}`}\``;

/** The key prefix `<prefix>/LATEST` holds, or undefined when nothing was deployed there. */
export async function latestJobCodeKey(
  s3: S3Client,
  codeBucket: string,
  prefix = DEFAULT_CODE_PREFIX,
): Promise<string | undefined> {
  const key = `${prefix}/${LATEST_FILE}`;
  let text: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: codeBucket, Key: key }));
    text = (await out.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    if (awsErrorName(err) === 'NoSuchBucket') throw invalid(`codeBucket: bucket "${codeBucket}" does not exist`);
    if (awsErrorName(err) === 'NoSuchKey' || httpStatus(err) === 404) return undefined;
    throw classifyAwsError(err, `S3 GetObject s3://${codeBucket}/${key}`);
  }
  const latest = text.trim();
  if (!JOB_CODE_KEY_PATTERN.test(latest)) {
    throw invalid(
      `codeBucket: s3://${codeBucket}/${key} holds "${latest.slice(0, 80)}", not a job code key; ${deployHint(codeBucket, prefix)}`,
    );
  }
  return latest;
}

/**
 * The job code key a backfill runs with: the request's own, or the latest deployed one, after
 * checking with HeadObject that both objects are there. Fails with InvalidInput naming what is missing.
 */
export async function resolveJobCode(
  s3: S3Client,
  codeBucket: string,
  requested: string | undefined,
  prefix = DEFAULT_CODE_PREFIX,
): Promise<string> {
  const jobCodeKey = requested ?? (await latestJobCodeKey(s3, codeBucket, prefix));
  if (!jobCodeKey) {
    throw invalid(
      `codeBucket: no job code deployed (s3://${codeBucket}/${prefix}/${LATEST_FILE} does not exist); ${deployHint(codeBucket, prefix)}`,
    );
  }
  const field = requested ? 'jobCodeKey' : 'codeBucket';
  for (const uri of Object.values(jobCodeUris(codeBucket, jobCodeKey))) {
    const key = uri.slice(`s3://${codeBucket}/`.length);
    try {
      await s3.send(new HeadObjectCommand({ Bucket: codeBucket, Key: key }));
    } catch (err) {
      const name = awsErrorName(err);
      if (name === 'NotFound' || name === 'NoSuchKey' || (httpStatus(err) === 404 && name !== 'NoSuchBucket')) {
        throw invalid(`${field}: job code object ${uri} does not exist; ${deployHint(codeBucket, prefix)}`);
      }
      if (name === 'NoSuchBucket') throw invalid(`codeBucket: bucket "${codeBucket}" does not exist`);
      throw classifyAwsError(err, `S3 HeadObject ${uri}`);
    }
  }
  return jobCodeKey;
}

export interface JobCodeUpload {
  codeBucket: string;
  prefix: string;
  /** backfill_features.py */
  entryPoint: Uint8Array;
  /** card_features.zip */
  pyPackage: Uint8Array;
  /** `<sha256-12>` of both (and of the connector jar, when given). */
  hash: string;
  /** The Feature Store Spark connector's jar, for offline publication from the job. */
  connectorJar?: Uint8Array;
}

/** Uploads both objects under `<prefix>/<hash>/`, then points LATEST at them. Returns the key prefix. */
export async function uploadJobCode(s3: S3Client, upload: JobCodeUpload): Promise<string> {
  const jobCodeKey = `${upload.prefix}/${upload.hash}`;
  const { entryPoint, pyFiles } = jobCodeUris(upload.codeBucket, jobCodeKey);
  const put = async (uri: string, body: Uint8Array | string, contentType: string) => {
    const key = uri.slice(`s3://${upload.codeBucket}/`.length);
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: upload.codeBucket, Key: key, Body: body, ContentType: contentType }),
      );
    } catch (err) {
      throw classifyAwsError(err, `S3 PutObject ${uri}`);
    }
  };
  await put(entryPoint, upload.entryPoint, 'text/x-python');
  await put(pyFiles, upload.pyPackage, 'application/zip');
  if (upload.connectorJar)
    await put(connectorJarUri(upload.codeBucket, jobCodeKey), upload.connectorJar, 'application/java-archive');
  // Last, so LATEST never names a key whose objects are not all there.
  await put(
    `s3://${upload.codeBucket}/${upload.prefix}/${LATEST_FILE}`,
    `${jobCodeKey}\n`,
    'text/plain; charset=utf-8',
  );
  return jobCodeKey;
}
