/**
 * One writer of the cross-language compare-and-swap test (test/lake-cas.test.ts): waits for `<dir>/go`,
 * then does `cycles` read-increment-conditional-write cycles on the counter record, retrying on
 * LedgerConflict, and prints how many writes succeeded. Its Python twin is spark_jobs/tests/cas_counter.py.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerConflictError } from '../../src/activities/backends';
import { LocalLake } from '../../src/activities/local/lake';
import { sleep } from './until';

async function main(): Promise<void> {
  const [dir, uri, cycles, name] = process.argv.slice(2);
  const lake = new LocalLake();
  fs.writeFileSync(path.join(dir, `ready.${name}`), '');
  while (!fs.existsSync(path.join(dir, 'go'))) await sleep(5);
  let written = 0;
  while (written < Number(cycles)) {
    const read = (await lake.readTextWithEtag(uri))!;
    const next = JSON.stringify({ n: (JSON.parse(read.text) as { n: number }).n + 1 });
    try {
      await lake.writeTextIf(uri, next, { ifMatch: read.etag });
      written += 1;
    } catch (err) {
      if (!(err instanceof LedgerConflictError)) throw err;
    }
  }
  process.stdout.write(`${written}\n`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
