/** Lake URIs, laid out as docs/design.md says: the templates of spark_jobs/card_features/contract.json, which the job resolves too. */
import * as path from 'node:path';
import type { BackfillRequest } from '../common/input';
import { DEFAULT_LAKE_PREFIXES, lakePath } from '../common/lake-contract';

/** `bucket` is an S3 bucket name, an s3:// or file:// URI, or a local directory. */
export function lakeRoot(bucket: string): string {
  if (bucket.includes('://')) return bucket.replace(/\/+$/, '');
  if (/^[/.~]/.test(bucket)) return 'file://' + path.resolve(bucket.replace(/^~(?=$|\/)/, process.env.HOME ?? '~'));
  return `s3://${bucket}`;
}

export function bronzeTable(req: BackfillRequest): string {
  return lakePath('bronze_table', { root: lakeRoot(req.bucket), prefix: req.prefixes.bronze });
}

/** A day's arrival partition of bronze (the job's plan.day_partition). */
export function bronzePartition(req: BackfillRequest, dt: string): string {
  return lakePath('day_partition', { table: bronzeTable(req), dt });
}

export function goldTable(req: BackfillRequest): string {
  return lakePath('gold_table', { root: lakeRoot(req.bucket), prefix: req.prefixes.gold });
}

export function goldPartition(req: BackfillRequest, dt: string): string {
  return lakePath('gold_partition', { gold_table: goldTable(req), version: req.featureVersion, dt });
}

/** The job's manifest of a chunk; per run, so overlapping or repeated runs never share one. */
export function manifestUri(req: BackfillRequest, chunkId: string, runId?: string): string {
  const dir = lakePath('manifest_dir', { root: lakeRoot(req.bucket), prefix: DEFAULT_LAKE_PREFIXES.manifests });
  const values = { manifest_dir: dir, version: req.featureVersion, chunk: chunkId };
  return runId ? lakePath('chunk_run_manifest', { ...values, run_id: runId }) : lakePath('chunk_manifest', values);
}

/** Where the job records a failure it can name (a bad bronze file, a refusing lake), beside its manifest. */
export function errorRecordUri(req: BackfillRequest, chunkId: string, runId?: string): string {
  return manifestUri(req, chunkId, runId).replace(/\.json$/, '.error.json');
}

export function fileUriToPath(uri: string): string {
  if (!uri.startsWith('file://')) throw new Error(`not a local lake URI: ${uri}`);
  return uri.slice('file://'.length);
}
