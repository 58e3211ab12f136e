/** Lake URIs, laid out as docs/design.md says; the same rules as spark_jobs/card_features/job.py. */
import * as path from 'node:path';
import type { BackfillRequest } from '../common/input';

/** `bucket` is an S3 bucket name, an s3:// or file:// URI, or a local directory. */
export function lakeRoot(bucket: string): string {
  if (bucket.includes('://')) return bucket.replace(/\/+$/, '');
  if (/^[/.~]/.test(bucket)) return 'file://' + path.resolve(bucket.replace(/^~(?=$|\/)/, process.env.HOME ?? '~'));
  return `s3://${bucket}`;
}

export function bronzeTable(req: BackfillRequest): string {
  return `${lakeRoot(req.bucket)}/${req.prefixes.bronze}/card_authorization`;
}

export function goldTable(req: BackfillRequest): string {
  return `${lakeRoot(req.bucket)}/${req.prefixes.gold}/card_features`;
}

export function goldPartition(req: BackfillRequest, dt: string): string {
  return `${goldTable(req)}/feature_version=${req.featureVersion}/dt=${dt}`;
}

/** The job's manifest of a chunk; per run, so overlapping or repeated runs never share one. */
export function manifestUri(req: BackfillRequest, chunkId: string, runId?: string): string {
  const dir = `${lakeRoot(req.bucket)}/_manifests/card_features/feature_version=${req.featureVersion}`;
  return runId ? `${dir}/chunk=${chunkId}/run=${runId}.json` : `${dir}/chunk=${chunkId}.json`;
}

/** Where the job records a failure it can name (a bad bronze file, a refusing lake), beside its manifest. */
export function errorRecordUri(req: BackfillRequest, chunkId: string, runId?: string): string {
  return manifestUri(req, chunkId, runId).replace(/\.json$/, '.error.json');
}

export function fileUriToPath(uri: string): string {
  if (!uri.startsWith('file://')) throw new Error(`not a local lake URI: ${uri}`);
  return uri.slice('file://'.length);
}
