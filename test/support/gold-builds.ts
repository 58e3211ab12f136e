/** Gold built by the real feature job (spark-submit, as the local backend runs it), without a workflow. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalSparkRunner } from '../../src/activities/local/spark-submit';
import { sparkJobArgs } from '../../src/activities/spark/args';
import { dateRange } from '../../src/common/dates';
import { validateInput } from '../../src/common/input';
import { ROOT, VENV_BIN } from './temporal';

export interface GoldBuild {
  lake: string;
  version: string;
  start: string;
  end: string;
  runId: string;
  overwrite?: boolean;
  /** @default 1 */
  allowedLatenessDays?: number;
}

/** Runs the feature job over the range as one chunk; resolves when it succeeded, throws with its log otherwise. */
export async function buildGold(b: GoldBuild): Promise<void> {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gold-build-logs-'));
  const runner = new LocalSparkRunner({
    sparkSubmit: path.join(VENV_BIN, 'spark-submit'),
    python: path.join(VENV_BIN, 'python'),
    jobDir: path.join(ROOT, 'spark_jobs'),
    logDir,
  });
  const request = validateInput({
    bucket: b.lake,
    startDate: b.start,
    endDate: b.end,
    featureVersion: b.version,
    overwrite: b.overwrite ?? false,
    allowedLatenessDays: b.allowedLatenessDays ?? 1,
    allowIncompleteDays: true,
  });
  const days = dateRange(b.start, b.end);
  const chunk = { index: 0, id: `${b.start}_${b.end}`, startDate: b.start, endDate: b.end, days: days.length };
  const args = sparkJobArgs({ request, chunk, codeRevision: 'test', ledger: { runId: b.runId, computeDates: days } });
  const handle = await runner.submit({ request, chunk, args, runName: `gold/${b.version}/${b.runId}` });
  for (;;) {
    const status = await runner.status(handle);
    if (status.state === 'succeeded') return;
    if (status.state !== 'running') throw new Error(`feature job ${b.version} ${status.state}: ${status.detail}`);
    await new Promise((r) => setTimeout(r, 200)); // polling the child's exit, as the Spark step does
  }
}
