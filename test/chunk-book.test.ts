/** The compact chunk bookkeeping of large backfills: run-length encoding, folding, paging, carries. Pure. */
import assert from 'node:assert/strict';
import {
  ChunkBook,
  decodeRuns,
  decodeStates,
  describeStates,
  encodeRuns,
  encodeStates,
  KEEP_ALL_LIMIT,
  LISTED_FAILURES_LIMIT,
  MAX_PAGE_LIMIT,
  RECENT_LIMIT,
} from '../src/common/chunk-book';
import { planChunks } from '../src/common/plan';
import type { ChunkSummary } from '../src/common/results';

const TWENTY_YEARS = planChunks('2000-01-01', '2019-12-31', 1);

/** What a chunk of the fake activities would report: 10 rows and records per day, validated. */
function done(book: ChunkBook, i: number, status: 'succeeded' | 'failed' | 'cancelled' = 'succeeded'): void {
  const s = book.start(i, 1000 + i);
  const summary: ChunkSummary = {
    ...s,
    status,
    finishedAt: 2000 + i,
    rows: 10,
    recordsWritten: 10,
    validationOk: status === 'succeeded',
    quarantinedRows: 1,
  };
  if (status !== 'succeeded') summary.error = { step: 'spark', message: `boom ${s.chunk.id}` };
  book.finish(i, summary);
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('chunk book (compact chunk state)', () => {
  it('run-length encodes and decodes tokens and states', () => {
    assert.equal(encodeRuns(['s', 's', 's', 'f', 's']), 's*3,f*1,s*1');
    assert.deepEqual(decodeRuns('s*3,f*1,s*1'), ['s', 's', 's', 'f', 's']);
    assert.equal(encodeRuns([]), '');
    assert.deepEqual(decodeRuns(''), []);
    assert.equal(encodeStates(['succeeded', 'succeeded', 'pending']), 's*2,p*1');
    assert.deepEqual(decodeStates('r*1,c*2'), ['running', 'cancelled', 'cancelled']);
    assert.equal(describeStates('s*365,f*1,p*2'), '1-365 succeeded, 366 failed, 367-368 pending');
    assert.throws(() => decodeRuns('s3'), /bad run-length encoded run: "s3"/);
    assert.throws(() => decodeStates('x*2'), /bad chunk state code: "x"/);
  });

  it('a large plan folds succeeded chunks into sums and keeps failed ones in full; its carry stays small', () => {
    const book = new ChunkBook(TWENTY_YEARS);
    for (let i = 0; i < 7000; i++) done(book, i, i % 50 === 7 ? 'failed' : 'succeeded');
    assert.equal(book.count('succeeded'), 6860);
    assert.equal(book.count('failed'), 140);
    assert.equal(book.count('pending'), 305);
    const totals = book.totals();
    assert.deepEqual(
      [totals.chunks, totals.succeeded, totals.failed, totals.rowsWritten, totals.recordsIngested],
      [7305, 6860, 140, 70000, 70000],
    );
    assert.equal(book.rollupNow().quarantinedRows, 7000);
    assert.equal(book.rollupNow().validationPassed, 6860);

    const listed = book.listed();
    assert.equal(listed.chunks.length, LISTED_FAILURES_LIMIT);
    assert.equal(listed.notListed, 40);
    assert.ok(listed.chunks.every((c) => c.status === 'failed' && c.error?.message.startsWith('boom')));
    assert.equal(listed.chunks[0].chunk.id, TWENTY_YEARS[7].id, 'plan order');

    const carry = book.toCompact();
    assert.ok(bytes(carry) < 64 * 1024, `carry is ${bytes(carry)} bytes`);
    // The next run reads it back: same states, attempts and sums (the unlisted failures' sums folded).
    const next = new ChunkBook(TWENTY_YEARS, JSON.parse(JSON.stringify(carry)));
    assert.deepEqual(next.states, book.states);
    assert.deepEqual(next.attempts, book.attempts);
    assert.deepEqual(next.totals(), totals);
    assert.equal(next.nextPending(), 7000);
    assert.deepEqual(next.summary(7).error, { step: 'spark', message: `boom ${TWENTY_YEARS[7].id}` });
  });

  it('a small plan keeps every chunk summary, as reports did before', () => {
    const plan = TWENTY_YEARS.slice(0, KEEP_ALL_LIMIT);
    const book = new ChunkBook(plan);
    done(book, 0);
    done(book, 1, 'failed');
    const listed = book.listed();
    assert.equal(listed.chunks.length, KEEP_ALL_LIMIT);
    assert.deepEqual(
      listed.chunks.slice(0, 3).map((c) => [c.status, c.rows]),
      [
        ['succeeded', 10],
        ['failed', 10],
        ['pending', undefined],
      ],
    );
  });

  it('requeues failed and cancelled chunks, oldest first again', () => {
    const book = new ChunkBook(TWENTY_YEARS);
    for (let i = 0; i < 400; i++) done(book, i, i === 3 ? 'failed' : i === 5 ? 'cancelled' : 'succeeded');
    assert.equal(book.nextPending(), 400);
    assert.deepEqual(book.requeueFailed(), [TWENTY_YEARS[3].id, TWENTY_YEARS[5].id]);
    assert.equal(book.nextPending(), 3);
    assert.equal(book.count('failed') + book.count('cancelled'), 0);
    done(book, 3);
    assert.equal(book.summary(3).attempts, 2);
    assert.equal(book.nextPending(), 5);
  });

  it('pages through all, failed, running and recent chunks', () => {
    const book = new ChunkBook(TWENTY_YEARS);
    for (let i = 0; i < 1000; i++) done(book, i, i % 100 === 1 ? 'failed' : 'succeeded');
    book.start(1000, 5000);
    book.start(1001, 5001);

    const all = book.page({ chunks: 'all', offset: 998, limit: 4 });
    assert.deepEqual(all.page, { chunks: 'all', offset: 998, limit: 4, total: 7305 });
    assert.deepEqual(
      all.chunks.map((c) => [c.chunk.id, c.status]),
      [
        [TWENTY_YEARS[998].id, 'succeeded'],
        [TWENTY_YEARS[999].id, 'succeeded'],
        [TWENTY_YEARS[1000].id, 'running'],
        [TWENTY_YEARS[1001].id, 'running'],
      ],
    );
    const failed = book.page({ chunks: 'failed', offset: 8, limit: 5 });
    assert.equal(failed.page.total, 10);
    assert.deepEqual(
      failed.chunks.map((c) => c.chunk.index),
      [801, 901],
    );
    assert.deepEqual(
      book.page({ chunks: 'running' }).chunks.map((c) => c.chunk.index),
      [1000, 1001],
    );
    const recent = book.page({ chunks: 'recent', limit: 500 });
    assert.equal(recent.page.limit, MAX_PAGE_LIMIT, 'the limit is capped');
    assert.equal(recent.page.total, 2 + RECENT_LIMIT);
    assert.equal(recent.chunks.at(-1)?.chunk.index, 999, 'newest last');
    assert.equal(recent.chunks.at(-1)?.rows, 10, 'recent chunks in full');
    // Every page stays small, whatever the plan's length.
    assert.ok(bytes(book.page({ chunks: 'all', limit: MAX_PAGE_LIMIT })) < 64 * 1024);
    assert.deepEqual(book.page().page, { chunks: 'all', offset: 0, limit: 50, total: 7305 });
    assert.throws(
      () => book.page({ chunks: 'done' as never }),
      /chunks must be one of failed, running, all, recent, got "done"/,
    );
  });

  it('reads a carry from before the compact state (every summary in full)', () => {
    const plan = planChunks('2020-01-01', '2021-12-31', 1).filter((c) => c.index % 2 === 0); // an onlyChunks plan
    const chunks: ChunkSummary[] = plan.map((chunk, i) =>
      i < 300
        ? {
            chunk,
            status: i === 10 ? 'failed' : 'succeeded',
            attempts: 1,
            rows: 5,
            recordsWritten: 5,
            error: i === 10 ? { step: 'ingest', message: 'x' } : undefined,
          }
        : { chunk, status: 'pending', attempts: i === 300 ? 1 : 0 },
    );
    const book = ChunkBook.fromLegacy({ chunks });
    assert.equal(book.size, plan.length);
    assert.equal(book.count('succeeded'), 299);
    assert.equal(book.count('pending'), plan.length - 300);
    assert.equal(book.totals().rowsWritten, 1500);
    assert.equal(book.nextPending(), 300);
    assert.equal(book.attempts[300], 1);
    assert.deepEqual(
      book.listed().chunks.map((c) => c.chunk.id),
      [plan[10].id],
    );
    assert.equal(book.page({ chunks: 'failed' }).chunks[0].error?.step, 'ingest');
  });

  it('refuses a carry whose states do not match the plan', () => {
    assert.throws(
      () =>
        new ChunkBook(TWENTY_YEARS.slice(0, 3), {
          states: 's*2',
          attempts: '1*2',
          details: [],
          rollup: new ChunkBook([]).rollupNow(),
        }),
      /chunk states \(2\).*plan's 3 chunks/,
    );
  });
});
