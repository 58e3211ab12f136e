import assert from 'node:assert/strict';
import { InputError, validateInput } from '../src/common/input';
import { planChunks } from '../src/common/plan';

const base = {
  bucket: '/tmp/lake',
  startDate: '2025-10-01',
  endDate: '2025-10-07',
  featureVersion: 'v1',
  chunkSizeDays: 1,
};

function rejects(input: unknown, field: string, text: RegExp): void {
  assert.throws(
    () => validateInput(input),
    (err: unknown) => {
      assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
      assert.equal(err.field, field);
      assert.match(err.message, text);
      return true;
    },
  );
}

describe('validateInput', () => {
  it('accepts the Step Functions input unchanged and fills defaults', () => {
    const req = validateInput({
      bucket: 'your-datalake-bucket',
      codeBucket: 'your-code-bucket',
      startDate: '2025-10-01',
      endDate: '2025-10-07',
      featureVersion: 'v2',
      chunkSizeDays: 1,
      overwrite: false,
      dryRun: false,
      featureGroup: 'rt_card_features_v2',
      emr: { appId: 'app', jobRole: 'arn:aws:iam::1:role/r' },
      glue: { crawlerName: 'gold-crawler' },
    });
    assert.equal(req.featureVersion, 'v2');
    assert.equal(req.featureGroup, 'rt_card_features_v2');
    assert.deepEqual(req.emr, { appId: 'app', jobRole: 'arn:aws:iam::1:role/r' });
    assert.equal(req.maxConcurrentChunks, 2);
    assert.deepEqual(req.prefixes, { bronze: 'bronze/streaming', silver: 'silver', gold: 'gold' });
  });

  it('defaults the feature group from the version', () => {
    assert.equal(validateInput({ ...base, featureVersion: 'v2', featureGroup: undefined }).featureGroup, 'rt_card_features_v2');
  });

  it('rejects an end date before the start date', () => rejects({ ...base, endDate: '2025-09-30' }, 'endDate', /before startDate/));
  it('rejects malformed dates', () => {
    rejects({ ...base, startDate: '2025/10/01' }, 'startDate', /YYYY-MM-DD/);
    rejects({ ...base, endDate: '2025-02-30' }, 'endDate', /YYYY-MM-DD/);
    rejects({ ...base, startDate: undefined }, 'startDate', /required/);
  });
  it('rejects a chunk size of 0 or below, or not whole', () => {
    rejects({ ...base, chunkSizeDays: 0 }, 'chunkSizeDays', /at least 1/);
    rejects({ ...base, chunkSizeDays: -3 }, 'chunkSizeDays', /at least 1/);
    rejects({ ...base, chunkSizeDays: 1.5 }, 'chunkSizeDays', /whole number/);
    rejects({ ...base, chunkSizeDays: '7' }, 'chunkSizeDays', /whole number/);
  });
  it('rejects an unknown feature version, naming the defined ones', () => {
    rejects({ ...base, featureVersion: 'v9' }, 'featureVersion', /not defined; defined versions: v1, v2/);
    rejects({ ...base, featureVersion: 'latest' }, 'featureVersion', /v<major>/);
  });
  it('rejects misspelt fields and bad nested fields', () => {
    rejects({ ...base, chunkSize: 3 }, 'chunkSize', /unknown field/);
    rejects({ ...base, emr: { appId: 'x' } }, 'emr.jobRole', /required/);
    rejects({ ...base, overwrite: 'yes' }, 'overwrite', /true or false/);
    rejects({ ...base, sparkConf: { executorMemory: '8g' } }, 'sparkConf.executorMemory', /spark\./);
    rejects('not an object', 'input', /JSON object/);
  });
});

describe('planChunks', () => {
  it('splits a range into chunks oldest first, the last one shorter', () => {
    const chunks = planChunks('2025-10-01', '2025-10-07', 3);
    assert.deepEqual(
      chunks.map((c) => [c.startDate, c.endDate, c.days]),
      [
        ['2025-10-01', '2025-10-03', 3],
        ['2025-10-04', '2025-10-06', 3],
        ['2025-10-07', '2025-10-07', 1],
      ],
    );
    assert.deepEqual(chunks.map((c) => c.index), [0, 1, 2]);
    assert.equal(chunks[0].id, '2025-10-01_2025-10-03');
  });
  it('crosses month and leap-year boundaries', () => {
    const chunks = planChunks('2024-02-27', '2024-03-02', 2);
    assert.deepEqual(chunks.map((c) => c.id), ['2024-02-27_2024-02-28', '2024-02-29_2024-03-01', '2024-03-02_2024-03-02']);
  });
  it('plans one chunk per day over three years', () => {
    assert.equal(planChunks('2022-01-01', '2024-12-31', 1).length, 1096);
  });
});
