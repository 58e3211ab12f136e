/**
 * The build fingerprint is the same in TypeScript (src/activities/ledger/fingerprint.ts) and in the
 * job (definitions.py), and each code file it covers changes it on both sides: computed on a copy of
 * the card_features package in which one file at a time gets one more byte.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildFingerprint } from '../src/activities/ledger/fingerprint';
import { ROOT, VENV_BIN } from './support/temporal';

/** The files each side hashes besides definitions.json (definitions.py CODE_FILES). */
const COVERED = ['definitions.py', 'transform.py'];

/**
 * The build fingerprints of the checked-in code. Every gold commit in users' lakes carries one: a new
 * value makes all their days "another definition" (the guard refuses new days without
 * --accept-definition-change, `backfill check` calls them stale). Change transform.py or
 * definitions.py, and these, only on purpose.
 */
const PINNED = { v1: 'a37cdf209151', v2: '042811caec1d' };

function pythonFingerprint(jobDir: string): string {
  return execFileSync(
    path.join(VENV_BIN, 'python'),
    ['-c', 'from card_features.definitions import get_definition as g; print(g("v1").build_fingerprint)'],
    { cwd: jobDir, encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } },
  ).trim();
}

describe('build fingerprint: TypeScript and Python alike', function () {
  this.timeout(60_000);
  let jobDir: string;
  let original: string;

  before(() => {
    jobDir = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-fingerprint-'));
    fs.cpSync(path.join(ROOT, 'spark_jobs', 'card_features'), path.join(jobDir, 'card_features'), {
      recursive: true,
      filter: (src) => !src.includes('__pycache__'),
    });
    original = buildFingerprint('v1', path.join(jobDir, 'card_features'));
  });

  after(() => fs.rmSync(jobDir, { recursive: true, force: true }));

  it('is the pinned value for each version: a refactor does not change it', () => {
    for (const [version, fingerprint] of Object.entries(PINNED)) assert.equal(buildFingerprint(version), fingerprint);
  });

  it('is the same on both sides for the checked-in package', () => {
    assert.equal(pythonFingerprint(jobDir), original);
    assert.equal(buildFingerprint('v1'), original);
  });

  for (const name of COVERED) {
    it(`changes on both sides, alike, when ${name} changes`, () => {
      const file = path.join(jobDir, 'card_features', name);
      const bytes = fs.readFileSync(file);
      fs.appendFileSync(file, '\n');
      try {
        const ts = buildFingerprint('v1', path.join(jobDir, 'card_features'));
        assert.notEqual(ts, original, `${name} is not covered by the TypeScript fingerprint`);
        assert.equal(pythonFingerprint(jobDir), ts);
      } finally {
        fs.writeFileSync(file, bytes);
      }
    });
  }
});
