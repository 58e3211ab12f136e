/**
 * Replays recorded histories (test/histories) against the current workflow code: a change that
 * would break a running backfill fails here. Guard such changes with patched() and keep the old
 * histories; record new ones with test/support/record-histories.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { ROOT, WORKFLOWS_PATH } from './support/temporal';

const DIR = path.join(ROOT, 'test', 'histories');

describe('replay of recorded histories', function () {
  // index.json maps each recorded file to the workflow id it ran under.
  const index: Record<string, string> = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8'));
  const files = Object.keys(index).sort();

  it('has recorded histories of backfills and chunks to replay', () => {
    assert.ok(
      files.some((f) => f.includes('-backfill-')) && files.some((f) => f.includes('-chunk-')),
      files.join(', '),
    );
  });

  it('replays every one of them without nondeterminism', async () => {
    const histories = files.map((f) => ({
      workflowId: index[f],
      history: JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')),
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: WORKFLOWS_PATH }, histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
