/** The build of lib/ that setup, the fault harness and its soak run (scripts/build.sh). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './support/temporal';

describe('build: scripts/build.sh', () => {
  it('removes what a moved source left, which Node would load before the module that replaced it', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-build-'));
    try {
      // src/activities/ingest.ts became src/activities/ingest/index.ts: an older build still has ingest.js.
      const stale = ['src/activities/ingest.js', 'src/activities/ingest.js.map', 'src/gone/old.js'];
      for (const file of stale) {
        fs.mkdirSync(path.dirname(path.join(out, file)), { recursive: true });
        fs.writeFileSync(path.join(out, file), 'throw new Error("stale build output loaded");\n');
      }
      execFileSync(path.join(ROOT, 'scripts', 'build.sh'), [out], { cwd: ROOT, stdio: 'pipe' });
      for (const file of stale) assert.equal(fs.existsSync(path.join(out, file)), false, `${file} removed`);
      const registry = path.join(out, 'src', 'activities', 'index.js');
      const ingest = execFileSync(
        process.execPath,
        ['-e', `console.log(typeof require(${JSON.stringify(registry)}).createActivities)`],
        { encoding: 'utf8', env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') } },
      );
      assert.equal(ingest.trim(), 'function', 'the registry loads the ingest step built from today’s source');
      assert.ok(fs.existsSync(path.join(out, 'spark_jobs', 'card_features', 'contract.json')), 'JSON sources kept');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
