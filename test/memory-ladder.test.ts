/** The memory ladder's pure parts: memory sizes, rungs, and which failure texts mean out of memory. */
import assert from 'node:assert/strict';
import { outOfMemorySignature } from '../src/activities/spark/memory-ladder';
import { memoryBytes, nextRung, parseLadder } from '../src/common/memory-ladder';
import { sizeTier, SIZE_THRESHOLDS } from '../src/activities/spark/sizing';

describe('memory ladder', () => {
  it('reads Spark memory sizes and climbs to the first rung above the current setting, within the cap', () => {
    assert.equal(memoryBytes('512m'), 512 * 2 ** 20);
    assert.equal(memoryBytes('8g'), 8 * 2 ** 30);
    assert.ok(Number.isNaN(memoryBytes('lots')));
    const ladder = parseLadder('spark.executor.memory', '16g, 8g,30g', '20g');
    assert.deepEqual(ladder.rungs, ['8g', '16g'], 'sorted, and 30g above the cap dropped');
    assert.equal(nextRung(ladder, '8g'), '16g');
    assert.equal(nextRung(ladder, '4096m'), '8g');
    assert.equal(nextRung(ladder, '12g'), '16g');
    assert.equal(nextRung(ladder, '16g'), undefined, 'the top');
    assert.equal(nextRung(ladder, undefined), '8g');
    assert.throws(() => parseLadder('k', '8g', 'big'), /"big" is not a Spark memory size/);
  });

  it('recognises out of memory in EMR state details and driver logs, and nothing else', () => {
    const cases: [string, string | undefined][] = [
      [
        'Job failed. ExitCode: 1. Last few exceptions: Caused by: java.lang.OutOfMemoryError: GC overhead limit exceeded\nmore',
        'java.lang.OutOfMemoryError: GC overhead limit exceeded',
      ],
      [
        'Reason: Container killed by YARN for exceeding physical memory limits. 9.1 GB of 9 GB used',
        'Container killed by YARN for exceeding physical memory limits. 9.1 GB of 9 GB used',
      ],
      [
        'Container exited with a non-zero exit code 137. Killed by external signal',
        'Container exited with a non-zero exit code 137. Killed by external signal',
      ],
      [
        'ExecutorLostFailure (executor 2 exited unrelated to the running tasks) Reason: OOM',
        'ExecutorLostFailure (executor 2 exited unrelated to the running tasks) Reason: OOM',
      ],
      ['Executor 4 was killed: worker ran out of memory', 'Executor 4 was killed: worker ran out of memory'],
      ['java.io.EOFException: Unexpected end of input stream', undefined],
      [
        'ExecutorLostFailure (executor 2 exited caused by one of the running tasks) Reason: Remote RPC client disassociated',
        undefined,
      ],
      ['Job run timed out', undefined],
    ];
    for (const [text, want] of cases) assert.equal(outOfMemorySignature(text), want, text);
  });

  it('sizes by the bronze bytes a chunk reads', () => {
    assert.equal(sizeTier(0), 'small');
    assert.equal(sizeTier(SIZE_THRESHOLDS.medium - 1), 'small');
    assert.equal(sizeTier(SIZE_THRESHOLDS.medium), 'medium');
    assert.equal(sizeTier(SIZE_THRESHOLDS.large), 'large');
  });
});
