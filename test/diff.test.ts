/**
 * `backfill diff` on the local backend: the real feature job builds v1 and v2 gold of a generated
 * lake, the CLI runs the diff job with spark-submit, and every figure is held against an
 * independent computation over the same gold files (test/support/diff-reference.ts).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DiffReport } from '../src/activities/diff/result';
import { main } from '../src/client/cli';
import { DIFF_FEATURES, EXIT_GATE } from '../src/client/commands/diff';
import { dateRange } from '../src/common/dates';
import { fakeIo } from './cli/support';
import { buildGold } from './support/gold-builds';
import { ledgerFiles, referenceDiff } from './support/diff-reference';
import { makeSampleLake } from './support/lake';

const START = '2025-10-01';
const END = '2025-10-03';
const DAYS = dateRange(START, END);

/** Numbers equal to 1e-9 relative (sums of doubles differ in their last bits by summation order); the rest exactly. */
function assertClose(actual: unknown, expected: unknown, at = 'report'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tol = 1e-9 * Math.max(1, Math.abs(expected));
    assert.ok(Math.abs(actual - expected) <= tol, `${at}: ${actual} != ${expected}`);
  } else if (expected && typeof expected === 'object') {
    for (const [k, v] of Object.entries(expected)) assertClose((actual as Record<string, unknown>)[k], v, `${at}.${k}`);
  } else assert.equal(actual, expected, at);
}

async function diff(args: string[]) {
  const io = fakeIo();
  const code = await main(['diff', ...args], io, { pollMs: 200 });
  return { code, io };
}

describe('backfill diff (local spark-submit)', function () {
  this.timeout(900_000); // three feature jobs and two diff jobs on a shared two-core machine
  let lake: string;
  let out: string;

  before(async () => {
    lake = makeSampleLake({ start: START, days: 3, eventsPerDay: 300, cards: 40, seed: 11 });
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'diff-out-'));
    await Promise.all([
      buildGold({ lake, version: 'v1', start: START, end: END, runId: 'run-v1' }),
      buildGold({ lake, version: 'v2', start: START, end: END, runId: 'run-v2' }),
    ]);
  });

  it('v2 against v1: every figure matches the reference, the gate of one feature exits 3', async () => {
    const { code, io } = await diff([
      '--bucket',
      lake,
      '--start-date',
      START,
      '--end-date',
      END,
      '--feature-version',
      'v2',
      '--against',
      'v1',
      '--max-changed-share-of',
      'txn_count_24h=0.01',
      '--max-changed-share-of',
      'amount_sum_24h=1',
      '--out',
      out,
      '--json',
    ]);
    assert.equal(code, EXIT_GATE, io.stderr());
    const report = JSON.parse(io.stdout()) as DiffReport;
    const ref = await referenceDiff(
      ledgerFiles(lake, 'v1', DAYS, 'current'),
      ledgerFiles(lake, 'v2', DAYS, 'current'),
      DIFF_FEATURES,
    );
    assert.deepEqual(
      report.days.map((d) => d.dt),
      DAYS,
    );
    assertClose(report.days, ref.days, 'days');
    assertClose(report.total, ref.total, 'total');
    // Declined events are counted by v1 only: real changes, on every day, and the same events on both sides.
    assert.ok(report.total.features.txn_count_24h.changed > 0);
    assert.equal(report.total.only_a + report.total.only_b, 0);
    // The top cards are those with most changed events, in order, with the reference's counts.
    const counts = [...ref.changedByCard.values()].sort((x, y) => y - x);
    assert.deepEqual(
      report.top_cards.map((c) => c.changed_events),
      counts.slice(0, 10),
    );
    for (const c of report.top_cards) assert.equal(c.changed_events, ref.changedByCard.get(c.card_id));
    assert.deepEqual(
      report.gate.exceeded.map((e) => e.feature),
      ['txn_count_24h'],
    );
    // The files: the JSON report as printed, and a page with inline SVG that fetches nothing.
    const files = fs.readdirSync(out).sort();
    assert.equal(files.length, 2);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, files[1]), 'utf8')), report);
    const html = fs.readFileSync(path.join(out, files[0]), 'utf8');
    assert.equal((html.match(/<svg /g) ?? []).length, 1 + 2 * DIFF_FEATURES.length);
    assert.doesNotMatch(html, /<script|src=|href=|url\(/);
  });

  it('before and after an overwrite: the replaced gold is side a, matching the reference', async () => {
    // Lateness 0 quarantines the events that arrived a day late: the overwrite drops them.
    await buildGold({
      lake,
      version: 'v1',
      start: START,
      end: END,
      runId: 'run-v1-again',
      overwrite: true,
      allowedLatenessDays: 0,
    });
    const { code, io } = await diff([
      '--bucket',
      lake,
      '--start-date',
      START,
      '--end-date',
      END,
      '--feature-version',
      'v1',
      '--before-overwrite',
      '--max-changed-share',
      '1',
      '--out',
      out,
    ]);
    assert.equal(code, 0, io.stderr());
    const json = fs.readdirSync(out).filter((f) => f.startsWith('diff-v1-vs-previous') && f.endsWith('.json'));
    const report = JSON.parse(fs.readFileSync(path.join(out, json[0]), 'utf8')) as DiffReport;
    const ref = await referenceDiff(
      ledgerFiles(lake, 'v1', DAYS, 'previous'),
      ledgerFiles(lake, 'v1', DAYS, 'current'),
      DIFF_FEATURES,
    );
    assertClose(report.days, ref.days, 'days');
    assertClose(report.total, ref.total, 'total');
    assert.ok(report.total.only_a > 0, 'late events are only in the gold before the overwrite');
    assert.equal(report.total.only_b, 0);
    assert.equal(report.a.label, 'v1 (before overwrite)');
    assert.match(io.stdout(), /gate: passed/);
    assert.match(io.stdout(), /^total\s+\d+\s+\d+\s+\d+\s+0 /m);
  });

  it('refuses a diff without a side a, and an unknown feature in a gate (exit 2)', async () => {
    const base = ['--bucket', lake, '--start-date', START, '--end-date', END];
    assert.equal((await diff(base)).code, 2);
    const { code, io } = await diff([...base, '--against', 'v1', '--max-changed-share-of', 'nope=0.1']);
    assert.equal(code, 2);
    assert.match(io.stderr(), /--max-changed-share-of takes FEATURE=X/);
  });
});
