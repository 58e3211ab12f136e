/** A failed job's error record becomes a named failure; bad files are reported once across chunks. */
import { ApplicationFailure } from '@temporalio/common';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalLake } from '../src/activities/local/lake';
import { sparkJobFailure } from '../src/activities/spark/errors';
import {
  badFilesOfChunks,
  describeBadFiles,
  parseBadFiles,
  uniqueBadFiles,
  type BadBronzeFile,
} from '../src/common/bad-input';

const F1: BadBronzeFile = {
  uri: 'file:///lake/bronze/dt=2025-10-02/part-0.json.gz',
  dt: '2025-10-02',
  reason: 'the gzip data ends early: the file is truncated',
};
const F2: BadBronzeFile = {
  uri: 's3://lake/bronze/dt=2025-10-01/a b.json.gz',
  dt: '2025-10-01',
  reason: 'the gzip data is corrupt (java.util.zip.ZipException: invalid block type; x)',
};

describe('spark error records', () => {
  const lake = new LocalLake();
  let dir: string;
  const put = (name: string, record: unknown) => {
    fs.writeFileSync(path.join(dir, name), typeof record === 'string' ? record : JSON.stringify(record));
    return `file://${path.join(dir, name)}`;
  };
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-errors-'))));

  it('a BadInput record is a non-retryable BadBronzeInput failure naming each file, its dt and the reason', async () => {
    const uri = put('bad.json', { type: 'BadInput', files: [F1, F2] });
    const failure = await sparkJobFailure(lake, uri);
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, 'BadBronzeInput');
    assert.equal(failure.nonRetryable, true);
    assert.equal(
      failure.message,
      `bronze file ${F1.uri} (dt=2025-10-02) cannot be read: the gzip data ends early: the file is truncated; ` +
        `bronze file ${F2.uri} (dt=2025-10-01) cannot be read: ${F2.reason}`,
    );
    assert.deepEqual(failure.details, [{ files: [F1, F2], errorRecord: uri }]);
  });

  it('a StorageError record is retryable only when the job says so', async () => {
    const denied = await sparkJobFailure(
      lake,
      put('denied.json', {
        type: 'StorageError',
        path: 'file:///lake/gold/card_features',
        reason: 'the file system is read-only',
        retryable: false,
      }),
    );
    assert.equal(denied?.type, 'StorageError');
    assert.equal(denied?.nonRetryable, true);
    assert.equal(denied?.message, 'storage error at file:///lake/gold/card_features: the file system is read-only');
    const full = await sparkJobFailure(
      lake,
      put('full.json', { type: 'StorageError', path: '', reason: 'no space left on the device', retryable: true }),
    );
    assert.equal(full?.nonRetryable, false);
    assert.equal(full?.message, 'storage error at an unknown path: no space left on the device');
  });

  it('a LedgerConflict record is a non-retryable LedgerConflict failure naming the record and both etags', async () => {
    const record = {
      type: 'LedgerConflict',
      path: 'file:///lake/_ledger/gold/card_features/feature_version=v1/dt=2025-10-01.json',
      expected: null,
      found: '0cc175b9c0f1b6a831c399e269772661',
      reason: 'expected no record, found etag 0cc175b9c0f1b6a831c399e269772661: another writer got there first',
    };
    const uri = put('conflict.json', record);
    const failure = await sparkJobFailure(lake, uri);
    assert.equal(failure?.type, 'LedgerConflict');
    assert.equal(failure?.nonRetryable, true);
    assert.equal(failure?.message, `ledger conflict at ${record.path}: ${record.reason}`);
    assert.deepEqual(failure?.details, [{ path: record.path, expected: null, found: record.found, errorRecord: uri }]);
  });

  it('no record, or one that is not ours, gives no failure (the generic one applies)', async () => {
    assert.equal(await sparkJobFailure(lake, `file://${dir}/missing.json`), undefined);
    assert.equal(await sparkJobFailure(lake, put('garbage.json', '{"type": "BadIn')), undefined);
    assert.equal(await sparkJobFailure(lake, put('empty-files.json', { type: 'BadInput', files: [] })), undefined);
    assert.equal(await sparkJobFailure(lake, put('other.json', { type: 'Other' })), undefined);
  });
});

describe('bad bronze files across chunks', () => {
  it('reads back the files of a message, as the chunk workflow wraps it', () => {
    const message = `chunk 2025-10-02 failed at spark: ${describeBadFiles([F1, F2])}`;
    assert.deepEqual(parseBadFiles(message), [F1, F2]);
    assert.deepEqual(parseBadFiles('Spark job 12 failed for chunk x: java.lang.OutOfMemoryError'), []);
  });

  it('lists a file once when several chunks read it (lookback and lateness), sorted by dt', () => {
    // One bad file of 10-02 fails the chunks of 10-01 (lateness), 10-02 and 10-03 (lookback).
    const chunks = [
      { error: { step: 'spark', message: describeBadFiles([F1]) } },
      { error: { step: 'spark', message: describeBadFiles([F1, F2]) } },
      { error: { step: 'spark', message: describeBadFiles([{ ...F1, reason: 'said differently' }]) } },
      { error: { step: 'ingest', message: 'throttled' } },
      {},
    ];
    assert.deepEqual(badFilesOfChunks(chunks), [F2, F1]);
    assert.deepEqual(uniqueBadFiles([[F1], undefined, [F1, F2], []]), [F2, F1]);
  });
});
