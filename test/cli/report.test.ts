/** Progress lines, the progress bar, ETA and the final report as text: pure. */
import assert from 'node:assert/strict';
import { chunkEvent, etaMs, formatDuration, progressBar, progressLine } from '../../src/client/progress';
import { formatReport } from '../../src/client/report';
import { planChunks } from '../../src/common/plan';
import { ChunkBook, encodeStates } from '../../src/common/chunk-book';
import { unfinishedChunks } from '../../src/client/commands/retry-failed';
import { formatProgress, pageOf } from '../../src/client/commands/status';
import type { BackfillReport, ChunkSummary } from '../../src/common/results';
import { totalsOf } from '../support/totals';
import type { BackfillProgress } from '../../src/workflows/api';

const [c1, c2, c3, c4] = planChunks('2025-10-01', '2025-10-04', 1);
const T0 = Date.parse('2025-11-01T00:00:00Z');

function progress(chunks: ChunkSummary[], extra: Partial<BackfillProgress> = {}): BackfillProgress {
  const totals = totalsOf(chunks);
  return {
    workflowId: 'backfill-x',
    status: 'running',
    paused: false,
    maxConcurrentChunks: 2,
    totals: {
      ...totals,
      running: chunks.filter((c) => c.status === 'running').length,
      pending: chunks.filter((c) => c.status === 'pending').length,
    },
    chunks,
    startedAt: T0,
    runs: 1,
    ...extra,
  };
}

const ok = (chunk = c1, rows = 200): ChunkSummary => ({
  chunk,
  status: 'succeeded',
  attempts: 1,
  startedAt: T0,
  finishedAt: T0 + 30_000,
  rows,
  rowsPerDt: { [chunk.startDate]: rows },
  recordsWritten: rows,
  validationOk: true,
  validationProblems: [],
  quarantinedRows: 2,
  duplicatesRemoved: 3,
});

describe('cli: progress and report text', () => {
  it('formats durations', () => {
    assert.equal(formatDuration(4_400), '4s');
    assert.equal(formatDuration(125_000), '2m05s');
    assert.equal(formatDuration(3_600_000 * 2 + 60_000 * 7), '2h07m');
  });

  it('estimates the time left from the pace so far', () => {
    const chunks = [
      ok(c1),
      ok(c2),
      { chunk: c3, status: 'running', attempts: 1 },
      { chunk: c4, status: 'pending', attempts: 0 },
    ] as ChunkSummary[];
    assert.equal(etaMs(progress(chunks), T0 + 60_000), 60_000, '2 of 4 done in 60 s: 60 s to go');
    assert.equal(
      etaMs(progress(chunks.map((c) => ({ ...c, status: 'pending' }))), T0 + 60_000),
      undefined,
      'nothing finished yet',
    );
    assert.equal(etaMs(progress(chunks, { paused: true }), T0 + 60_000), undefined, 'paused');
    assert.equal(etaMs(progress([ok(c1)]), T0 + 60_000), 0);
  });

  it('draws the bar with chunks done, failed, running, rows, records, elapsed and ETA', () => {
    const chunks = [
      ok(c1),
      { chunk: c2, status: 'failed', attempts: 1 },
      { chunk: c3, status: 'running', attempts: 1 },
      { chunk: c4, status: 'pending', attempts: 0 },
    ] as ChunkSummary[];
    const bar = progressBar(progress(chunks), T0 + 60_000, 8);
    assert.equal(
      bar,
      'running [####....] 2/4 chunks (1 ok, 1 failed, 1 running) | 1m00s elapsed, ETA 1m00s | 200 rows, 200 records',
    );
    assert.equal(
      progressLine(progress(chunks), T0 + 60_000),
      '2025-11-01T00:01:00.000Z running: chunks 1/4 done, 1 failed, 0 cancelled, 1 running, 1 pending; 200 rows, 200 records ingested; 1m00s elapsed, ETA 1m00s',
    );
    assert.match(
      progressBar(progress(chunks, { paused: true, status: 'paused' }), T0 + 60_000),
      /^paused .* ETA paused \|/,
    );
  });

  it('says what happened to a chunk between polls', () => {
    const running: ChunkSummary = { chunk: c1, status: 'running', attempts: 1 };
    assert.equal(chunkEvent(undefined, running), 'chunk 2025-10-01_2025-10-01 started');
    assert.equal(chunkEvent(running, running), undefined);
    assert.equal(chunkEvent(running, ok(c1)), 'chunk 2025-10-01_2025-10-01 succeeded in 30s: 200 rows, 200 records');
    assert.equal(
      chunkEvent(running, {
        ...running,
        status: 'failed',
        attempts: 2,
        startedAt: T0,
        finishedAt: T0 + 5000,
        error: { step: 'ingest', message: 'throttled' },
      }),
      'chunk 2025-10-01_2025-10-01 FAILED in 5s (attempt 2) at ingest: throttled',
    );
    assert.equal(
      chunkEvent({ ...running, status: 'failed' }, { ...running, status: 'pending' }),
      'chunk 2025-10-01_2025-10-01 queued again',
    );
  });

  it('reports each chunk, the failures with their reasons and how to retry, and the validation summary', () => {
    const chunks: ChunkSummary[] = [
      ok(c1, 1234),
      {
        chunk: c2,
        status: 'failed',
        attempts: 3,
        startedAt: T0,
        finishedAt: T0 + 90_000,
        rows: 50,
        recordsWritten: 20,
        failedRecords: 30,
        deadLetterLocation: 'file:///lake/_ingest/dead.jsonl',
        error: { step: 'ingest', message: 'ThrottlingException after 10 attempts' },
        jobRunId: 'jr-2',
      },
      {
        ...ok(c3),
        validationOk: false,
        validationProblems: ['row_count: gold 10 != manifest 11'],
        skippedPartitions: ['2025-10-03'],
        coverageGaps: [],
      },
      { chunk: c4, status: 'pending', attempts: 0 },
    ];
    const report: BackfillReport = {
      workflowId: 'backfill-x',
      status: 'partially_failed',
      featureGroup: 'rt_card_features_v1',
      featureVersion: 'v1',
      startDate: '2025-10-01',
      endDate: '2025-10-04',
      chunks,
      totals: totalsOf(chunks),
      startedAt: T0,
      finishedAt: T0 + 185_000,
    };
    const text = formatReport(report, { uiUrl: 'http://ui/x' });
    const lines = text.split('\n');
    assert.equal(lines[0], 'Backfill backfill-x: PARTIALLY_FAILED');
    assert.equal(lines[1], '  rt_card_features_v1 (v1), 2025-10-01 .. 2025-10-04, 4 chunk(s), took 3m05s');
    assert.match(text, /CHUNK +STATUS +ROWS +RECORDS +DURATION +ATTEMPTS +VALIDATION/);
    assert.match(text, /2025-10-01_2025-10-01 +succeeded +1,234 +1,234 +30s +1 +passed/);
    assert.match(text, /2025-10-02_2025-10-02 +failed +50 +20 +1m30s +3 +-/);
    assert.match(text, /2025-10-04_2025-10-04 +pending +- +- +- +0 +-/);
    assert.match(text, /total +2\/4 succeeded +1,484 +1,454/);
    assert.match(text, /Skipped \(gold already present; --overwrite replaces it\): 2025-10-03/);
    assert.match(
      text,
      /Failures:\n {2}2025-10-02_2025-10-02: failed at ingest: ThrottlingException after 10 attempts \(Spark job run jr-2\)/,
    );
    assert.match(text, /2025-10-04_2025-10-04: not started \(the backfill ended first\)/);
    assert.match(
      text,
      /2025-10-02_2025-10-02: 30 record\(s\) not written to the feature store, listed in file:\/\/\/lake\/_ingest\/dead.jsonl/,
    );
    assert.match(text, /Run the failed chunks again: backfill retry-failed backfill-x/);
    assert.match(
      text,
      /Validation: 1\/4 chunk\(s\) passed, 1 failed, 2 not validated\n {2}2025-10-03_2025-10-03: row_count: gold 10 != manifest 11/,
    );
    assert.equal(lines.at(-1), 'Web UI: http://ui/x');
  });

  /** A 20-year daily backfill's report, built by the workflow's own bookkeeping: chunks 100 and 5000-5199 failed. */
  function largeReport(): BackfillReport {
    const book = new ChunkBook(planChunks('2000-01-01', '2019-12-31', 1));
    for (let i = 0; i < book.size; i++) {
      const s = book.start(i, T0);
      const failed = i === 100 || (i >= 5000 && i < 5200);
      book.finish(i, {
        ...ok(s.chunk, 10),
        status: failed ? 'failed' : 'succeeded',
        validationOk: failed ? undefined : true,
        error: failed ? { step: 'spark', message: `boom ${i}` } : undefined,
        skippedPartitions: i < 150 ? [s.chunk.startDate] : [],
      });
    }
    const listed = book.listed();
    return {
      workflowId: 'backfill-big',
      status: 'partially_failed',
      featureGroup: 'rt_card_features_v1',
      featureVersion: 'v1',
      startDate: '2000-01-01',
      endDate: '2019-12-31',
      chunks: listed.chunks,
      chunksNotListed: listed.notListed,
      states: encodeStates(book.states),
      rollup: book.rollupNow(),
      totals: book.totals(),
      startedAt: T0,
      finishedAt: T0 + 600_000,
    };
  }

  it("a dry run shows the Temporal task priority the run's tasks would carry", () => {
    const chunks = planChunks('2025-10-01', '2025-10-02', 1);
    const report: BackfillReport = {
      workflowId: 'backfill-dry',
      status: 'dry_run',
      featureGroup: 'rt_card_features_v1',
      featureVersion: 'v1',
      startDate: '2025-10-01',
      endDate: '2025-10-02',
      chunks: [],
      totals: totalsOf([]),
      startedAt: T0,
      finishedAt: T0,
      dryRun: {
        chunks,
        bronzePresent: {},
        bronzeMissing: [],
        goldExisting: [],
        wouldSkip: [],
        wouldOverwrite: [],
        taskPriority: { priorityKey: 4, fairnessKey: 'backfill-dry' },
      },
    };
    assert.match(
      formatReport(report),
      /Temporal tasks: priority 4 \(after production tasks at the default 3\), fairness key backfill-dry \(weight 1\)/,
    );
  });

  it("a large backfill's report lists its failed chunks, where the others are, and sums over every chunk", () => {
    const report = largeReport();
    assert.ok(Buffer.byteLength(JSON.stringify(report)) < 128 * 1024);
    const text = formatReport(report);
    assert.match(text, /7,305 chunk\(s\)|7305 chunk\(s\)/);
    assert.match(
      text,
      /Chunks by position: 1-100 succeeded, 101 failed, 102-5000 succeeded, 5001-5200 failed, 5201-7305 succeeded/,
    );
    assert.match(text, /2000-04-10_2000-04-10 +failed +10 +10/);
    assert.doesNotMatch(
      text,
      /2000-01-01_2000-01-01 +succeeded/,
      'succeeded chunks of a large backfill are not listed one by one',
    );
    assert.match(text, /total +7104\/7305 succeeded +73,050 +73,050/);
    assert.match(text, /and 101 more failed or cancelled chunk\(s\) not listed/);
    assert.match(
      text,
      /Skipped \(gold already present; --overwrite replaces it\): 2000-01-01, .*, 2000-04-09 and 50 more day\(s\)/,
    );
    assert.match(text, /Input: 14,610 malformed line\(s\) quarantined, 21,915 duplicate event\(s\) removed/);
    assert.match(text, /Validation: 7104\/7305 chunk\(s\) passed, 0 failed, 201 not validated/);
  });

  it("retry-failed takes every unfinished chunk of a large report from its states, over the input's plan", () => {
    const report = largeReport();
    const input = { bucket: '/tmp/lake', startDate: '2000-01-01', endDate: '2019-12-31', chunkSizeDays: 1 };
    const again = unfinishedChunks(report, input);
    assert.equal(again.length, 201);
    assert.equal(again[0], '2000-04-10_2000-04-10');
    assert.equal(again[1], planChunks('2000-01-01', '2019-12-31', 1)[5000].id);
    // A small report lists every chunk, as before.
    assert.deepEqual(
      unfinishedChunks(
        {
          ...report,
          chunks: [ok(c1), { chunk: c2, status: 'cancelled', attempts: 1 }],
          totals: { ...report.totals, chunks: 2 },
          states: 's*1,c*1',
        },
        input,
      ),
      [c2.id],
    );
    assert.throws(
      () => unfinishedChunks(report, { ...input, endDate: '2019-12-30' }),
      /has 7305 chunk states but its input plans 7304 chunks/,
    );
  });

  it("status pages through a running backfill's chunks and says how to see the next page", () => {
    const book = new ChunkBook(planChunks('2000-01-01', '2019-12-31', 1));
    for (let i = 0; i < 40; i++)
      book.finish(i, {
        ...book.start(i, T0),
        status: i === 7 ? 'failed' : 'succeeded',
        error: i === 7 ? { step: 'ingest', message: 'store refused' } : undefined,
      });
    book.start(40, T0);
    const p = (request: Parameters<typeof pageOf>[0]) =>
      progress([], {
        ...book.page(pageOf(request)),
        totals: { ...book.totals(), running: 1, pending: book.count('pending') },
      });
    const first = formatProgress(p({ chunks: 'all', limit: '10' }), 'http://ui/x');
    assert.match(first, /2000-01-08_2000-01-08 +failed at ingest/);
    assert.match(
      first,
      /chunks 1-10 of 7,305 \(all\)\n {2}next: backfill status backfill-x --chunks all --offset 10 --limit 10/,
    );
    assert.match(
      formatProgress(p({ chunks: 'all', offset: '8000' }), 'http://ui/x'),
      /\n {2}no chunks at offset 8000: 7,305 all chunk\(s\) so far\n/,
    );
    const unplanned = formatProgress(
      progress([], { totals: { ...book.totals(), chunks: 0, running: 0, pending: 0 } }),
      'http://ui/x',
    );
    assert.match(unplanned, /\n {2}preflight and planning: no chunk planned yet\n/);
    assert.doesNotMatch(unplanned, /at most/);
    const failed = formatProgress(p({ chunks: 'failed' }), 'http://ui/x');
    assert.match(failed, /2000-01-08_2000-01-08: store refused/);
    assert.doesNotMatch(failed, /2000-01-01_2000-01-01/);
    assert.match(formatProgress(p({ chunks: 'running' }), 'http://ui/x'), /2000-02-10_2000-02-10 +running/);
    assert.throws(() => pageOf({ chunks: 'done' }), /--chunks must be failed, running or all, got "done"/);
    assert.throws(() => pageOf({ limit: '500' }), /--limit must be at most 200, got 500/);
    assert.throws(() => pageOf({ offset: '-1' }), /--offset/);
  });
});
