/** One lake, one lease: every spelling of a lake names the same lease workflow (issue 20 item 2). */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lakeLeaseWorkflowId, normaliseLake } from '../src/activities/ledger/lease-key';

describe('lease key: one lake, one lease', () => {
  it('a local lake through a symlink, with a trailing slash or as file:// is one lake', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lease-key-'));
    const lake = path.join(dir, 'lake');
    fs.mkdirSync(lake);
    fs.symlinkSync(lake, path.join(dir, 'alias'));
    const ids = [lake, `${lake}/`, path.join(dir, 'alias'), `file://${lake}`, path.join(dir, 'x', '..', 'lake')].map(
      (spelling) => lakeLeaseWorkflowId(spelling, 'v1'),
    );
    assert.deepEqual(new Set(ids).size, 1, ids.join(' '));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an S3 lake as a bucket name, s3://, s3a:// and with a trailing slash is one lake; another bucket or version is not', () => {
    assert.equal(normaliseLake('s3a://b/'), 's3://b');
    const id = lakeLeaseWorkflowId('b', 'v1');
    for (const spelling of ['s3://b', 's3://b/', 's3a://b', 's3n://b/'])
      assert.equal(lakeLeaseWorkflowId(spelling, 'v1'), id);
    assert.notEqual(lakeLeaseWorkflowId('c', 'v1'), id);
    assert.notEqual(lakeLeaseWorkflowId('b', 'v2'), id);
  });
});
