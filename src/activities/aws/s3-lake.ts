/** The lake on S3 (s3://bucket/key URIs), with the same listing rules as the local lake. */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { LedgerConflictError, type Lake, type LakeObject, type WriteCondition } from '../backends';
import { readParquetRows } from '../parquet';
import { awsErrorName, classifyAwsError, httpStatus } from './errors';

/** Attempts of a conditional PUT answered 409 (a concurrent conditional write): 100, 200, 400 ms apart. */
const CONFLICT_ATTEMPTS = 4;

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an S3 URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

export class S3Lake implements Lake {
  constructor(private readonly client: S3Client) {}

  async readText(uri: string): Promise<string | undefined> {
    const bytes = await this.readBytes(uri);
    return bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8');
  }

  /** A PutObject is atomic: readers see the old object or the new one, never a part. */
  async writeText(uri: string, text: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: contentType(key) }),
      );
    } catch (err) {
      throw classifyAwsError(err, `S3 PutObject ${uri}`);
    }
  }

  async readTextWithEtag(uri: string): Promise<{ text: string; etag: string } | undefined> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const text = out.Body ? await out.Body.transformToString('utf8') : '';
      return { text, etag: (out.ETag ?? '').replace(/"/g, '') };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw classifyAwsError(err, `S3 GetObject ${uri}`);
    }
  }

  /**
   * A conditional PutObject (If-None-Match: * to create, If-Match: etag to replace). S3 answers a
   * failed condition with 412 PreconditionFailed, a concurrent conditional write of the same key with
   * 409 ConditionalRequestConflict, and If-Match on a key that is gone with 404 NoSuchKey. Each is read
   * back first: a PUT whose answer was lost is retried by the SDK, and the retry meets this writer's own
   * write; when the object holds exactly the bytes sent, the write succeeded.
   */
  async writeTextIf(uri: string, text: string, condition: WriteCondition): Promise<string> {
    const expected = 'ifMatch' in condition ? condition.ifMatch : 'absent';
    for (let attempt = 1; ; attempt++) {
      let err: unknown;
      try {
        return await this.putIf(uri, text, condition);
      } catch (e) {
        err = e;
      }
      const name = awsErrorName(err);
      const busy = name === 'ConditionalRequestConflict' || httpStatus(err) === 409;
      const failed =
        busy || name === 'PreconditionFailed' || httpStatus(err) === 412 || ('ifMatch' in condition && isMissing(err));
      if (!failed) throw classifyAwsError(err, `S3 PutObject ${uri} (conditional)`);
      const now = await this.readTextWithEtag(uri);
      if (now?.text === text) return now.etag;
      // 409: another conditional write was in flight; its outcome decides, so ask again a few times.
      if (busy && attempt < CONFLICT_ATTEMPTS) {
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        continue;
      }
      throw new LedgerConflictError(uri, expected, now?.etag ?? 'absent');
    }
  }

  private async putIf(uri: string, text: string, condition: WriteCondition): Promise<string> {
    const { bucket, key } = parseS3Uri(uri);
    const out = await this.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: text,
        ContentType: contentType(key),
        ...('ifMatch' in condition ? { IfMatch: `"${condition.ifMatch}"` } : { IfNoneMatch: '*' }),
      }),
    );
    return (out.ETag ?? '').replace(/"/g, '');
  }

  async delete(uris: string[]): Promise<void> {
    const byBucket = new Map<string, string[]>();
    for (const uri of uris) {
      const { bucket, key } = parseS3Uri(uri);
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), key]);
    }
    for (const [bucket, keys] of byBucket) {
      // DeleteObjects takes at most 1,000 keys a call.
      for (let i = 0; i < keys.length; i += 1000) {
        let out;
        try {
          out = await this.client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
            }),
          );
        } catch (err) {
          throw classifyAwsError(err, `S3 DeleteObjects in ${bucket}`);
        }
        if (out.Errors?.length)
          throw new Error(
            `S3 DeleteObjects in ${bucket} refused ${out.Errors.length} keys, e.g. ${out.Errors[0].Key}: ${out.Errors[0].Code}`,
          );
      }
    }
  }

  async list(prefixUri: string): Promise<LakeObject[]> {
    const { bucket, key } = parseS3Uri(prefixUri.replace(/\/+$/, ''));
    // A trailing slash: dt=2025-10-1 must not list dt=2025-10-10.
    const prefix = key === '' ? '' : `${key}/`;
    const out: LakeObject[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: prefix })) {
        for (const o of page.Contents ?? []) {
          if (!o.Key || o.Key.endsWith('/')) continue; // "folder" marker objects
          const relative = o.Key.slice(prefix.length).split('/');
          // Hidden like on a file system: _SUCCESS, _temporary/, .crc files, and "x_$folder$" markers.
          if (relative.some((part) => part.startsWith('_') || part.startsWith('.')) || o.Key.endsWith('_$folder$'))
            continue;
          out.push({
            uri: `s3://${bucket}/${o.Key}`,
            size: o.Size ?? 0,
            mtime: o.LastModified?.getTime(),
            etag: o.ETag?.replace(/"/g, ''),
          });
        }
      }
    } catch (err) {
      throw classifyAwsError(err, `S3 ListObjectsV2 ${prefixUri}`);
    }
    return out.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  async readParquet(uri: string): Promise<Record<string, unknown>[]> {
    const bytes = await this.readBytes(uri);
    if (bytes === undefined) throw new Error(`parquet file ${uri} does not exist`);
    return readParquetRows(bytes);
  }

  /** A ranged GetObject: only the head crosses the network, whatever the object's size. */
  async readHead(uri: string, bytes: number): Promise<Buffer | undefined> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${bytes - 1}` }),
      );
      // A server that ignores Range sends the whole object: keep the head only.
      return out.Body ? Buffer.from(await out.Body.transformToByteArray()).subarray(0, bytes) : Buffer.alloc(0);
    } catch (err) {
      const name = awsErrorName(err);
      // S3 answers a range on an empty object with 416 InvalidRange: the head of nothing is empty.
      if (name === 'InvalidRange' || httpStatus(err) === 416) return Buffer.alloc(0);
      if (name === 'NoSuchKey' || (httpStatus(err) === 404 && name !== 'NoSuchBucket')) return undefined;
      throw classifyAwsError(err, `S3 GetObject ${uri} (range)`);
    }
  }

  private async readBytes(uri: string): Promise<Uint8Array | undefined> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) return new Uint8Array();
      return await out.Body.transformToByteArray();
    } catch (err) {
      const name = awsErrorName(err);
      if (name === 'NoSuchKey' || (httpStatus(err) === 404 && name !== 'NoSuchBucket')) return undefined;
      throw classifyAwsError(err, `S3 GetObject ${uri}`);
    }
  }
}

function isMissing(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'NoSuchKey' || (httpStatus(err) === 404 && name !== 'NoSuchBucket');
}

function contentType(key: string): string {
  if (key.endsWith('.json')) return 'application/json';
  if (key.endsWith('.jsonl')) return 'application/x-ndjson';
  return 'text/plain; charset=utf-8';
}
