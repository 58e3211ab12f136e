/** The dry run's bronze check and Lake.readHead, on a local lake directory and on S3 (moto). */
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { S3Lake } from '../src/activities/aws/s3-lake';
import type { Lake } from '../src/activities/backends';
import { checkBronzeFiles } from '../src/activities/backfill/bronze-check';
import { LocalLake } from '../src/activities/local/lake';
import { motoClients, startMoto, type Moto } from './aws/moto';

const TABLE = 'bronze/streaming/card_authorization';
const good = zlib.gzipSync(Buffer.from('{"event_id": "a"}\n'));
const big = zlib.gzipSync(Buffer.from('{"event_id": "b", "pad": "' + 'x'.repeat(200_000) + '"}\n'), { level: 0 });

/** Relative key -> content: every kind of file the check tells apart. */
const FILES: Record<string, Buffer> = {
  'dt=2025-10-01/part-0.json.gz': good,
  'dt=2025-10-01/part-1.json.gz': big, // large: read by its head only
  'dt=2025-10-02/empty.json.gz': Buffer.alloc(0),
  'dt=2025-10-02/plain.json.gz': Buffer.from('{"event_id": "c"}\n'),
  'dt=2025-10-02/cut.json.gz': good.subarray(0, 12),
  'dt=2025-10-03/ok.json': Buffer.from('\n  {"event_id": "d"}\n'),
  'dt=2025-10-03/array.json': Buffer.from('[{"event_id": "e"}]\n'),
  'dt=2025-10-03/zipped.json': good,
  'dt=2025-10-03/notes.txt': Buffer.from('anything'), // not a bronze format: not judged
};

const EXPECTED = (root: string) => [
  {
    uri: `${root}/${TABLE}/dt=2025-10-02/cut.json.gz`,
    dt: '2025-10-02',
    reason: 'the file is too short to be gzip data (12 bytes): it was cut off',
  },
  { uri: `${root}/${TABLE}/dt=2025-10-02/empty.json.gz`, dt: '2025-10-02', reason: 'the file is empty' },
  {
    uri: `${root}/${TABLE}/dt=2025-10-02/plain.json.gz`,
    dt: '2025-10-02',
    reason: 'the file is not gzip data although its name ends in .gz (it starts with 0x7b 0x22 0x65 0x76)',
  },
  {
    uri: `${root}/${TABLE}/dt=2025-10-03/array.json`,
    dt: '2025-10-03',
    reason: 'the file does not start with a JSON object (it starts with 0x5b 0x7b 0x22 0x65)',
  },
  {
    uri: `${root}/${TABLE}/dt=2025-10-03/zipped.json`,
    dt: '2025-10-03',
    reason: 'the file is gzip data but its name does not end in .gz: Spark would read it as text',
  },
];

function lakeCases(
  name: string,
  setup: () => Promise<{ lake: Lake; root: string; put: (key: string, body: Buffer) => Promise<void> }>,
) {
  describe(`bronze check on the ${name} lake`, () => {
    let lake: Lake;
    let root: string;
    before(async () => {
      const made = await setup();
      ({ lake, root } = made);
      for (const [key, body] of Object.entries(FILES)) await made.put(`${TABLE}/${key}`, body);
    });

    it('readHead returns the first bytes, all of a short file, an empty buffer for an empty file, undefined for a missing one', async () => {
      const file = (key: string) => `${root}/${TABLE}/${key}`;
      assert.deepEqual(await lake.readHead(file('dt=2025-10-01/part-1.json.gz'), 4), big.subarray(0, 4));
      assert.deepEqual(await lake.readHead(file('dt=2025-10-01/part-0.json.gz'), 10_000), good);
      assert.deepEqual(await lake.readHead(file('dt=2025-10-02/empty.json.gz'), 8), Buffer.alloc(0));
      assert.equal(await lake.readHead(file('dt=2025-10-09/missing.json.gz'), 8), undefined);
    });

    it('flags empty files and files whose first bytes do not match their name, with dt and reason', async () => {
      const files = await lake.list(`${root}/${TABLE}`);
      assert.equal(files.length, Object.keys(FILES).length);
      assert.deepEqual(await checkBronzeFiles(lake, files), EXPECTED(root));
    });
  });
}

lakeCases('local', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bronze-check-'));
  return {
    lake: new LocalLake(),
    root: `file://${dir}`,
    put: async (key, body) => {
      fs.mkdirSync(path.dirname(path.join(dir, key)), { recursive: true });
      fs.writeFileSync(path.join(dir, key), body);
    },
  };
});

describe('bronze check against moto', () => {
  let moto: Moto;
  let s3: S3Client;
  const ranges: (string | undefined)[] = [];
  before(async () => {
    moto = await startMoto();
    s3 = motoClients(moto.endpoint).s3;
    // What the lake asks S3 for: ranged reads, never whole objects.
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetObjectCommand') ranges.push((args.input as { Range?: string }).Range);
        return next(args);
      },
      { step: 'initialize', name: 'recordRanges' },
    );
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
  });
  after(async () => moto?.stop());

  lakeCases('S3', async () => ({
    lake: new S3Lake(s3),
    root: 's3://lake',
    put: async (key, body) => {
      await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: key, Body: body }));
    },
  }));

  // A nested suite, so it runs after the S3 cases above (a suite's own tests run before its suites).
  describe('S3 requests', () => {
    it('reads only ranges of the objects', () => {
      assert.ok(ranges.length >= Object.keys(FILES).length, JSON.stringify(ranges));
      assert.ok(
        ranges.every((r) => r !== undefined && /^bytes=0-\d+$/.test(r)),
        JSON.stringify(ranges),
      );
    });
  });
});
