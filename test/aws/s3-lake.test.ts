/** The S3 lake against moto (server mode) with the real S3 client. */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { parseS3Uri, S3Lake } from '../../src/activities/aws/s3-lake';
import { LedgerConflictError } from '../../src/activities/backends';
import { motoClients, startMoto, type Moto } from './moto';
import { GOLD_FIXTURE } from './support';

describe('aws: S3 lake on moto', function () {
  let moto: Moto;
  let s3: S3Client;
  let lake: S3Lake;
  let listCalls = 0;

  before(async () => {
    moto = await startMoto();
    s3 = motoClients(moto.endpoint).s3;
    // Small pages, so that listing has to follow continuation tokens.
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ListObjectsV2Command') {
          listCalls += 1;
          (args.input as { MaxKeys?: number }).MaxKeys = 2;
        }
        return next(args);
      },
      { step: 'initialize', name: 'smallPages' },
    );
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
    lake = new S3Lake(s3);
  });
  after(async () => moto?.stop());

  it('parses s3 URIs', () => {
    assert.deepEqual(parseS3Uri('s3://b/a/b.json'), { bucket: 'b', key: 'a/b.json' });
    assert.deepEqual(parseS3Uri('s3://b'), { bucket: 'b', key: '' });
    assert.throws(() => parseS3Uri('file:///tmp/x'), /not an S3 URI/);
  });

  it('writes and reads text; a missing object reads as undefined', async () => {
    await lake.writeText('s3://lake/_manifests/a.json', '{"a":1}');
    assert.equal(await lake.readText('s3://lake/_manifests/a.json'), '{"a":1}');
    assert.equal(await lake.readText('s3://lake/_manifests/missing.json'), undefined);
  });

  it('a missing bucket is an error, not an empty file', async () => {
    await assert.rejects(lake.readText('s3://no-such-bucket/x'), /NoSuchBucket/);
  });

  it('lists recursively across pages, sorted, without hidden files and without neighbouring prefixes', async () => {
    const base = 'gold/card_features/feature_version=v1';
    const keys = [
      `${base}/dt=2025-10-1/part-0.parquet`,
      `${base}/dt=2025-10-10/part-0.parquet`,
      `${base}/dt=2025-10-1/part-1.parquet`,
      `${base}/dt=2025-10-1/_SUCCESS`,
      `${base}/dt=2025-10-1/.part-0.parquet.crc`,
      `${base}/dt=2025-10-1/_temporary/0/part-9.parquet`,
      `${base}/dt=2025-10-1/sub/part-2.parquet`,
      `${base}/dt=2025-10-1/`,
    ];
    for (const Key of keys)
      await s3.send(
        new PutObjectCommand({ Bucket: 'lake', Key, Body: Buffer.from(Key.endsWith('/') ? '' : 'x'.repeat(5)) }),
      );
    listCalls = 0;
    const listed = await lake.list(`s3://lake/${base}/dt=2025-10-1`);
    assert.deepEqual(
      listed.map((o) => o.uri),
      [
        `s3://lake/${base}/dt=2025-10-1/part-0.parquet`,
        `s3://lake/${base}/dt=2025-10-1/part-1.parquet`,
        `s3://lake/${base}/dt=2025-10-1/sub/part-2.parquet`,
      ],
    );
    assert.ok(listed.every((o) => o.size === 5));
    assert.ok(listCalls >= 3, `expected several pages, got ${listCalls}`);
    assert.deepEqual(await lake.list('s3://lake/nothing/here'), []);
    assert.equal((await lake.list(`s3://lake/${base}/`)).length, 4);
  });

  it('reads a parquet file written by Spark', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: 'lake', Key: 'p/part-0.parquet', Body: fs.readFileSync(GOLD_FIXTURE) }),
    );
    const rows = await lake.readParquet('s3://lake/p/part-0.parquet');
    assert.equal(rows.length, 120);
    assert.equal(rows[0].card_id, 'card_00');
    assert.equal(rows[0].event_id, 'evt_0000');
    assert.equal(Number(rows[0].event_time), 1759276800);
    await assert.rejects(lake.readParquet('s3://lake/p/missing.parquet'), /does not exist/);
  });

  it('conditional writes: create if absent, replace the version read; a lost race is a LedgerConflict', async () => {
    const uri = 's3://lake/_ledger/publication/g/feature_version=v1/dt=2025-10-01.json';
    const created = await lake.writeTextIf(uri, 'v0', { ifNoneMatch: '*' });
    assert.deepEqual(await lake.readTextWithEtag(uri), { text: 'v0', etag: created });
    await assert.rejects(
      lake.writeTextIf(uri, 'again', { ifNoneMatch: '*' }),
      (err: LedgerConflictError) => err.name === 'LedgerConflict' && err.expected === 'absent' && err.found === created,
    );
    // Two writers read the same version; the first replace wins, the second finds another version.
    const a = (await lake.readTextWithEtag(uri))!;
    const b = (await lake.readTextWithEtag(uri))!;
    const won = await lake.writeTextIf(uri, 'A', { ifMatch: a.etag });
    await assert.rejects(
      lake.writeTextIf(uri, 'B', { ifMatch: b.etag }),
      (err: LedgerConflictError) => err instanceof LedgerConflictError && err.expected === b.etag && err.found === won,
    );
    assert.equal(await lake.readText(uri), 'A');
    // A record removed meanwhile cannot be replaced either.
    await lake.delete([uri]);
    await assert.rejects(lake.writeTextIf(uri, 'C', { ifMatch: won }), /found absent/);
    assert.equal(await lake.readText(uri), undefined);
  });

  it('two writers racing at once on one record: one wins, one LedgerConflict, the record is the winner’s', async () => {
    const uri = 's3://lake/_ledger/gold/card_features/feature_version=v1/dt=2025-10-02.json';
    const base = await lake.writeTextIf(uri, 'base', { ifNoneMatch: '*' });
    const outcomes = await Promise.allSettled(['A', 'B'].map((w) => lake.writeTextIf(uri, w, { ifMatch: base })));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [['A', 'B'][i]] : []));
    assert.equal(won.length, 1, JSON.stringify(outcomes));
    assert.ok(outcomes.some((o) => o.status === 'rejected' && o.reason instanceof LedgerConflictError));
    assert.equal(await lake.readText(uri), won[0]);
  });

  it('a retried conditional PUT that meets its own write succeeds; another body there is a LedgerConflict', async () => {
    // A PUT whose answer was lost is retried by the SDK with the same condition: its 412 resolves by the body.
    const uri = 's3://lake/_ledger/publication/g/feature_version=v1/dt=2025-10-03.json';
    const first = await lake.writeTextIf(uri, 'one', { ifNoneMatch: '*' });
    assert.equal(await lake.writeTextIf(uri, 'one', { ifNoneMatch: '*' }), first);
    const second = await lake.writeTextIf(uri, 'two', { ifMatch: first });
    assert.equal(await lake.writeTextIf(uri, 'two', { ifMatch: first }), second);
    await assert.rejects(
      lake.writeTextIf(uri, 'three', { ifMatch: first }),
      (err: LedgerConflictError) =>
        err instanceof LedgerConflictError && err.expected === first && err.found === second,
    );
    assert.deepEqual(await lake.readTextWithEtag(uri), { text: 'two', etag: second });
  });
});
