/** Progress lines, the progress bar, ETA and the final report as text: pure. */
import assert from 'node:assert/strict';
import { chunkEvent, etaMs, formatDuration, progressBar, progressLine } from '../../src/client/progress';
import { formatReport } from '../../src/client/report';
import { planChunks } from '../../src/common/plan';
import { totalsOf, type BackfillReport, type ChunkSummary } from '../../src/common/results';
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
    totals: { ...totals, running: chunks.filter((c) => c.status === 'running').length, pending: chunks.filter((c) => c.status === 'pending').length },
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
    const chunks = [ok(c1), ok(c2), { chunk: c3, status: 'running', attempts: 1 }, { chunk: c4, status: 'pending', attempts: 0 }] as ChunkSummary[];
    assert.equal(etaMs(progress(chunks), T0 + 60_000), 60_000, '2 of 4 done in 60 s: 60 s to go');
    assert.equal(etaMs(progress(chunks.map((c) => ({ ...c, status: 'pending' }))), T0 + 60_000), undefined, 'nothing finished yet');
    assert.equal(etaMs(progress(chunks, { paused: true }), T0 + 60_000), undefined, 'paused');
    assert.equal(etaMs(progress([ok(c1)]), T0 + 60_000), 0);
  });

  it('draws the bar with chunks done, failed, running, rows, records, elapsed and ETA', () => {
    const chunks = [ok(c1), { chunk: c2, status: 'failed', attempts: 1 }, { chunk: c3, status: 'running', attempts: 1 }, { chunk: c4, status: 'pending', attempts: 0 }] as ChunkSummary[];
    const bar = progressBar(progress(chunks), T0 + 60_000, 8);
    assert.equal(bar, 'running [####....] 2/4 chunks (1 ok, 1 failed, 1 running) | 1m00s elapsed, ETA 1m00s | 200 rows, 200 records');
    assert.equal(
      progressLine(progress(chunks), T0 + 60_000),
      '2025-11-01T00:01:00.000Z running: chunks 1/4 done, 1 failed, 0 cancelled, 1 running, 1 pending; 200 rows, 200 records ingested; 1m00s elapsed, ETA 1m00s',
    );
    assert.match(progressBar(progress(chunks, { paused: true, status: 'paused' }), T0 + 60_000), /^paused .* ETA paused \|/);
  });

  it('says what happened to a chunk between polls', () => {
    const running: ChunkSummary = { chunk: c1, status: 'running', attempts: 1 };
    assert.equal(chunkEvent(undefined, running), 'chunk 2025-10-01_2025-10-01 started');
    assert.equal(chunkEvent(running, running), undefined);
    assert.equal(chunkEvent(running, ok(c1)), 'chunk 2025-10-01_2025-10-01 succeeded in 30s: 200 rows, 200 records');
    assert.equal(
      chunkEvent(running, { ...running, status: 'failed', attempts: 2, startedAt: T0, finishedAt: T0 + 5000, error: { step: 'ingest', message: 'throttled' } }),
      'chunk 2025-10-01_2025-10-01 FAILED in 5s (attempt 2) at ingest: throttled',
    );
    assert.equal(chunkEvent({ ...running, status: 'failed' }, { ...running, status: 'pending' }), 'chunk 2025-10-01_2025-10-01 queued again');
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
      { ...ok(c3), validationOk: false, validationProblems: ['row_count: gold 10 != manifest 11'], skippedPartitions: ['2025-10-03'], coverageGaps: [] },
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
    assert.match(text, /Failures:\n {2}2025-10-02_2025-10-02: failed at ingest: ThrottlingException after 10 attempts \(Spark job run jr-2\)/);
    assert.match(text, /2025-10-04_2025-10-04: not started \(the backfill ended first\)/);
    assert.match(text, /2025-10-02_2025-10-02: 30 record\(s\) not written to the feature store, listed in file:\/\/\/lake\/_ingest\/dead.jsonl/);
    assert.match(text, /Run the failed chunks again: backfill retry-failed backfill-x/);
    assert.match(text, /Validation: 1\/4 chunk\(s\) passed, 1 failed, 2 not validated\n {2}2025-10-03_2025-10-03: row_count: gold 10 != manifest 11/);
    assert.equal(lines.at(-1), 'Web UI: http://ui/x');
  });
});
