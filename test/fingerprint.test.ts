/**
 * The build fingerprint is the same in TypeScript (src/activities/ledger/fingerprint.ts) and in the
 * job (definitions.py). It follows the transform block that definitions.json declares (the code
 * digests of the outputs' revision), not the bytes of the code files: computed on a copy of the
 * card_features package in which the block, or one code file, is changed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildFingerprint } from '../src/activities/ledger/fingerprint';
import { ROOT, VENV_BIN } from './support/temporal';

/** The code files whose declared digests each side hashes (definitions.py CODE_FILES). */
const COVERED = ['definitions.py', 'transform.py'];

/**
 * The build fingerprints of the checked-in code. Every gold commit in users' lakes carries one: a new
 * value makes all their days "another definition" (the guard refuses new days without
 * --accept-definition-change, `backfill check` calls them stale). They change only with a version's
 * entry or a new transform revision in definitions.json, on purpose (docs/development.md).
 */
const PINNED = { v1: 'a37cdf209151', v2: '042811caec1d' };

function pythonFingerprint(jobDir: string): string {
  return execFileSync(
    path.join(VENV_BIN, 'python'),
    ['-c', 'from card_features.definitions import get_definition as g; print(g("v1").build_fingerprint)'],
    {
      cwd: jobDir,
      encoding: 'utf8',
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      // A refusal's words come back in the error, not on the test's output.
      stdio: ['ignore', 'pipe', 'pipe'],
    },
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

  /** Run `edit` on the copy's file `name`, check both sides inside, then restore the file. */
  function withEdited(name: string, edit: (text: string) => string, check: () => void): void {
    const file = path.join(jobDir, 'card_features', name);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, edit(bytes.toString('utf8')));
    try {
      check();
    } finally {
      fs.writeFileSync(file, bytes);
    }
  }

  it('refuses, on both sides, a transform block that does not declare every code file as a sha256', () => {
    const bad: ((code: Record<string, string>) => void)[] = [
      (code) => delete code['transform.py'],
      (code) => (code['transform.py'] = 'not-a-digest'),
      (code) => (code['extra.py'] = createHash('sha256').update('x').digest('hex')),
    ];
    for (const spoil of bad)
      withEdited(
        'definitions.json',
        (text) => {
          const raw = JSON.parse(text) as { transform: { code: Record<string, string> } };
          spoil(raw.transform.code);
          return JSON.stringify(raw, null, 2);
        },
        () => {
          assert.throws(() => buildFingerprint('v1', path.join(jobDir, 'card_features')), /"transform" must declare/);
          assert.throws(() => pythonFingerprint(jobDir), /"transform" must declare/);
        },
      );
  });

  for (const name of COVERED) {
    it(`changes on both sides, alike, when the declared digest of ${name} changes`, () => {
      withEdited(
        'definitions.json',
        (text) => {
          const raw = JSON.parse(text) as { transform: { code: Record<string, string> } };
          raw.transform.code[name] = createHash('sha256').update('another revision').digest('hex');
          return JSON.stringify(raw, null, 2);
        },
        () => {
          const ts = buildFingerprint('v1', path.join(jobDir, 'card_features'));
          assert.notEqual(ts, original, `the declared digest of ${name} is not covered by the TypeScript fingerprint`);
          assert.equal(pythonFingerprint(jobDir), ts);
        },
      );
    });

    it(`does not change, on either side, when the bytes of ${name} change`, () => {
      withEdited(
        name,
        (text) => `${text}\n# a refactor: same outputs (spark_jobs/tests/test_golden_output.py)\n`,
        () => {
          assert.equal(buildFingerprint('v1', path.join(jobDir, 'card_features')), original);
          assert.equal(pythonFingerprint(jobDir), original);
        },
      );
    });
  }
});
