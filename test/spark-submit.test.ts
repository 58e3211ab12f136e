/** The local runner's failure detail: the job's own words, not the JVM's last exception line. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JobStatus } from '../src/activities/backends';
import { LocalSparkRunner } from '../src/activities/local/spark-submit';
import { validateInput } from '../src/common/input';

/** A stand-in spark-submit executable that prints what a failed run prints, then exits 2. */
function fakeSparkSubmit(dir: string, output: string): string {
  const script = path.join(dir, 'spark-submit');
  fs.writeFileSync(script, `#!/bin/sh\ncat <<'OUT'\n${output}\nOUT\nexit 2\n`, { mode: 0o755 });
  return script;
}

async function finalStatus(runner: LocalSparkRunner, id: string): Promise<JobStatus> {
  for (;;) {
    const status = await runner.status({ backend: 'local', id });
    if (status.state !== 'running') return status;
    await new Promise((r) => setTimeout(r, 20)); // polling the child's exit, as the activity does
  }
}

describe('local spark-submit failure detail', () => {
  it("reports the job's named error even when Java lines follow it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-submit-'));
    const named =
      'bronze file file:///lake/dt=2025-10-02/part-0.json.gz (dt=2025-10-02) cannot be read: the gzip data ends early';
    const runner = new LocalSparkRunner({
      sparkSubmit: fakeSparkSubmit(
        dir,
        [
          'ERROR Executor: Exception in task 0.0 in stage 0.0 (TID 0)',
          'java.io.EOFException: Unexpected end of input stream',
          `card_features error: ${named}`,
          'WARN ShutdownHookManager: ShutdownHook failed: java.lang.IllegalStateException: Shutdown in progress',
        ].join('\n'),
      ),
      python: process.execPath,
      jobDir: dir,
      logDir: path.join(dir, 'logs'),
    });
    const handle = await runner.submit({
      request: validateInput({ bucket: dir, startDate: '2025-10-02', endDate: '2025-10-02' }),
      chunk: { index: 0, id: 'c', startDate: '2025-10-02', endDate: '2025-10-02', days: 1 },
      args: [],
      runName: 'run-1',
    });
    const status = await finalStatus(runner, handle.id);
    assert.equal(status.state, 'failed');
    assert.match(
      status.detail ?? '',
      new RegExp(`^spark-submit exited with code 2: ${named.replace(/[.()]/g, '\\$&')} \\(log: `),
    );
  });
});
