/** A backfill report (and a dry run's plan with its cost estimate) as text for the terminal. Pure. */
import { addDays, dateRange } from '../common/dates';
import { badFilesOfChunks, describeBadFile } from '../common/bad-input';
import { describeSettings } from '../activities/spark/sizing';
import type { BackfillReport, ChunkRollup, ChunkSummary, DayList, DryRunPlan } from '../common/results';
import { formatPublication } from './publication-report';
import { describeTaskPriority } from '../common/task-priority';
import { describeStates, rollupOf } from '../common/chunk-book';
import type { CostEstimate } from './cost';
import { formatCount, formatDuration } from './progress';

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function formatUsd(n: number): string {
  return n < 10 ? `$${n.toFixed(2)}` : `$${Math.round(n).toLocaleString('en-US')}`;
}

/** Left-aligned text columns, right-aligned number columns. */
export function table(rows: string[][], rightAligned: boolean[], indent = '  '): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    (
      indent + r.map((cell, i) => (rightAligned[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ')
    ).trimEnd(),
  );
}

const list = (items: string[] | undefined) => (items && items.length ? items.join(', ') : 'none');
const dayList = (l: DayList) => `${l.days.join(', ')}${l.more ? ` and ${formatCount(l.more)} more day(s)` : ''}`;
/** Runs of states listed at most: a report of alternating failures stays readable. */
const STATE_RUNS_SHOWN = 20;

/** Sums over every chunk: the report's own, or (reports from before it) from its chunk list. */
function rollupOfReport(report: BackfillReport): ChunkRollup {
  return report.rollup ?? rollupOf(report.chunks);
}

/** Whether the report lists every chunk (a backfill of at most 200 chunks, and reports from before compact state). */
export function listsEveryChunk(report: BackfillReport): boolean {
  return report.chunks.length >= report.totals.chunks;
}

export interface ReportOptions {
  uiUrl?: string;
  /** The dry run's cost estimate. */
  estimate?: CostEstimate;
  /** Lateness days of the request, to tell a dry run's context days from in-range days. */
  allowedLatenessDays?: number;
}

export function formatReport(report: BackfillReport, options: ReportOptions = {}): string {
  const lines = report.dryRun ? formatDryRun(report, report.dryRun, options) : formatRun(report);
  if (options.uiUrl) lines.push(`Web UI: ${options.uiUrl}`);
  return lines.join('\n');
}

function formatRun(report: BackfillReport): string[] {
  const t = report.totals;
  const r = rollupOfReport(report);
  return [
    `Backfill ${report.workflowId}: ${report.status.toUpperCase()}`,
    `  ${report.featureGroup} (${report.featureVersion}), ${report.startDate} .. ${report.endDate}, ${t.chunks} chunk(s), took ${formatDuration(report.finishedAt - report.startedAt)}`,
    '',
    ...formatStates(report),
    ...table(chunkRows(report), [false, false, true, true, true, true, false]),
    '',
    ...formatRollup(r),
    ...formatDefinitionChange(report),
    ...formatDataWarnings(report),
    ...formatSpark(report),
    ...formatFailures(report),
    ...formatValidation(report, r),
  ];
}

/** A row per chunk the report lists, then the totals. */
function chunkRows(report: BackfillReport): string[][] {
  const t = report.totals;
  const rows = [['CHUNK', 'STATUS', 'ROWS', 'RECORDS', 'DURATION', 'ATTEMPTS', 'VALIDATION']];
  for (const c of report.chunks) {
    rows.push([
      c.chunk.id,
      c.status,
      c.rows !== undefined ? formatCount(c.rows) : '-',
      c.recordsWritten !== undefined ? formatCount(c.recordsWritten) : '-',
      c.startedAt && c.finishedAt ? formatDuration(c.finishedAt - c.startedAt) : '-',
      String(c.attempts),
      c.validationOk === undefined ? '-' : c.validationOk ? 'passed' : 'FAILED',
    ]);
  }
  rows.push([
    'total',
    `${t.succeeded}/${t.chunks} succeeded`,
    formatCount(t.rowsWritten),
    formatCount(t.recordsIngested),
    '',
    '',
    '',
  ]);
  return rows;
}

/** A large backfill lists only its failed and cancelled chunks; the states say where the others are. */
function formatStates(report: BackfillReport): string[] {
  if (listsEveryChunk(report) || !report.states) return [];
  const runs = report.states.split(',');
  const shown = describeStates(runs.slice(0, STATE_RUNS_SHOWN).join(','));
  return [
    `Chunks by position: ${shown}${runs.length > STATE_RUNS_SHOWN ? `, ... (${runs.length - STATE_RUNS_SHOWN} more runs)` : ''}`,
    '',
  ];
}

/** Days skipped or without bronze, input quarantined and deduplicated, gold the ledger does not know. */
function formatRollup(r: ReturnType<typeof rollupOfReport>): string[] {
  const lines: string[] = [];
  if (r.skippedPartitions.days.length)
    lines.push(`Skipped (gold already present; --overwrite replaces it): ${dayList(r.skippedPartitions)}`);
  if (r.coverageGaps.days.length)
    lines.push(`Coverage gaps (no bronze for the day, so no gold written): ${dayList(r.coverageGaps)}`);
  lines.push(
    `Input: ${formatCount(r.quarantinedRows)} malformed line(s) quarantined, ${formatCount(r.duplicatesRemoved)} duplicate event(s) removed`,
  );
  if (r.foreignDates.days.length)
    lines.push(
      `Gold without a ledger record (e.g. from the old pipeline), treated as published and not sent: ${dayList(r.foreignDates)} (--republish sends it once)`,
    );
  return lines;
}

function formatDefinitionChange(report: BackfillReport): string[] {
  const changes = report.chunks.flatMap((c) => (c.definitionChange ? [c.definitionChange] : []));
  if (!changes.length) return [];
  const replaced = changes.flatMap((c) => Object.entries(c.replaced)).sort(([a], [b]) => (a < b ? -1 : 1));
  return [
    `Definition change accepted (--accept-definition-change): gold built with fingerprint ${changes[0].fingerprint}; ` +
      (replaced.length
        ? `rebuilt over gold of another definition: ${replaced.map(([d, f]) => `${d} (was ${f})`).join(', ')}`
        : 'no day of another definition rebuilt') +
      ` (backfill check lists the days still built with another)`,
  ];
}

/** Records possibly ingested twice, and bronze files the job could not read. */
function formatDataWarnings(report: BackfillReport): string[] {
  const lines: string[] = [];
  const doubled = report.totals.possibleDuplicates ?? 0;
  if (doubled > 0) {
    lines.push(
      `A worker died mid-ingest: up to ${formatCount(doubled)} record(s) may be in the offline store twice (see "Guarantees" in docs/guide.md to remove them)`,
    );
  }
  const badFiles = badFilesOfChunks(report.chunks);
  if (badFiles.length)
    lines.push(
      'Unreadable bronze files (fix or remove them, then retry-failed):',
      ...badFiles.map((f) => `  ${describeBadFile(f)}`),
    );
  return lines;
}

/** The sizing tiers the chunks ran with, and the memory the ones that ran out of it needed. */
function formatSpark(report: BackfillReport): string[] {
  const tiers = new Map<string, number>();
  for (const c of report.chunks) if (c.spark?.tier) tiers.set(c.spark.tier, (tiers.get(c.spark.tier) ?? 0) + 1);
  const lines: string[] = [];
  if (tiers.size)
    lines.push(
      `Spark sizing (from the bronze bytes read): ${[...tiers].map(([t, n]) => `${t} ${n} chunk(s)`).join(', ')}`,
    );
  const climbed = report.chunks.filter((c) => c.spark?.escalations?.length);
  if (climbed.length) lines.push('Out of memory, run again with more (memory ladder):');
  for (const c of climbed) {
    const steps = c.spark!.escalations!;
    const last = steps[steps.length - 1];
    lines.push(
      `  ${c.chunk.id}: needed ${last.key}=${last.to} (out of memory at ${steps.map((s) => s.from).join(', then ')}: ${steps[0].signature})`,
    );
  }
  return lines;
}

function formatFailures(report: BackfillReport): string[] {
  const bad = report.chunks.filter((c) => c.status !== 'succeeded');
  const recordFailures = report.chunks.filter((c) => c.failedRecords);
  if (!bad.length && !recordFailures.length) return [];
  const lines = ['Failures:'];
  for (const c of bad) {
    const where = c.error
      ? `${c.status} at ${c.error.step}: ${c.error.message}`
      : c.status === 'pending'
        ? 'not started (the backfill ended first)'
        : c.status;
    lines.push(`  ${c.chunk.id}: ${where}${c.jobRunId ? ` (Spark job run ${c.jobRunId})` : ''}`);
    // A chunk split after a data failure: its good days are published, these are not.
    for (const d of c.badDays ?? []) lines.push(`    bad day ${d.dt}: ${d.message}`);
  }
  for (const c of recordFailures) {
    lines.push(
      `  ${c.chunk.id}: ${formatCount(c.failedRecords!)} record(s) not written to the feature store${c.deadLetterLocation ? `, listed in ${c.deadLetterLocation}` : ''}`,
    );
  }
  if (report.chunksNotListed)
    lines.push(`  and ${formatCount(report.chunksNotListed)} more failed or cancelled chunk(s) not listed`);
  if (bad.length) lines.push(`  Run the failed chunks again: backfill retry-failed ${report.workflowId}`);
  return lines;
}

function formatValidation(report: BackfillReport, r: ChunkRollup): string[] {
  const total = report.totals.chunks;
  const failed = report.chunks.filter((c: ChunkSummary) => c.validationOk === false);
  const lines = [
    `Validation: ${r.validationPassed}/${total} chunk(s) passed, ${r.validationFailed} failed, ${total - r.validationPassed - r.validationFailed} not validated`,
  ];
  for (const c of failed) lines.push(`  ${c.chunk.id}: ${list(c.validationProblems)}`);
  return lines;
}

function formatDryRun(report: BackfillReport, plan: DryRunPlan, options: ReportOptions): string[] {
  const days = dateRange(report.startDate, report.endDate);
  const estimate = options.estimate;
  const lines = [
    `Dry run ${report.workflowId}: nothing was written`,
    `  ${report.featureGroup} (${report.featureVersion}), ${report.startDate} .. ${report.endDate}: ${days.length} day(s) in ${plan.chunks.length} chunk(s)`,
    '',
    'Plan:',
  ];
  const rows = [['CHUNK', 'DAYS', 'BRONZE READ', 'WRITE', 'SKIP', 'NO BRONZE', 'SPARK', 'EST. COST']];
  plan.chunks.forEach((chunk, i) => {
    const chunkDays = dateRange(chunk.startDate, chunk.endDate);
    const gaps = chunkDays.filter((d) => plan.bronzeMissing.includes(d));
    const skip = chunkDays.filter((d) => plan.wouldSkip.includes(d));
    const cost = estimate?.chunks[i];
    rows.push([
      chunk.id,
      String(chunk.days),
      cost ? formatBytes(cost.inputBytes) : '-',
      String(chunkDays.length - gaps.length - skip.filter((d) => !gaps.includes(d)).length),
      String(skip.length),
      String(gaps.length),
      sparkColumn(plan, i, cost),
      cost ? formatUsd(cost.usd) : '-',
    ]);
  });
  lines.push(...table(rows, [false, true, true, true, true, true, false, true]), '');

  const lateness = options.allowedLatenessDays ?? 1;
  const present = Object.entries(plan.bronzePresent);
  const missingInRange = plan.bronzeMissing.filter((d) => days.includes(d));
  const missingContext = plan.bronzeMissing.filter((d) => !days.includes(d));
  lines.push(
    `Bronze partitions (arrival date, ${report.startDate} .. ${report.endDate} plus the lookback day ${addDays(report.startDate, -1)} and ${lateness} lateness day(s) after): ${present.length} found, ${plan.bronzeMissing.length} missing`,
    `  found: ${present.length ? present.map(([dt, bytes]) => `${dt} (${formatBytes(bytes)})`).join(', ') : 'none'}`,
    `  missing in the range (no gold will be written for these days): ${list(missingInRange)}`,
    `  missing context (lookback/lateness; windows near the range's edges may count fewer events): ${list(missingContext)}`,
    `Gold partitions already present (feature_version=${report.featureVersion}): ${list(plan.goldExisting)}`,
    `  would skip (without --overwrite existing partitions are kept): ${list(plan.wouldSkip)}`,
    `  would overwrite (--overwrite): ${list(plan.wouldOverwrite)}`,
  );
  if (plan.days) {
    const by = (publish: string) => plan.days!.filter((d) => d.publish === publish).map((d) => d.dt);
    lines.push(
      `Feature store (${report.featureGroup}), from the publication ledger:`,
      `  would send: ${list(by('send'))}`,
      `  would resume (an earlier run's publication did not finish): ${list(by('resume'))}`,
      `  already published: ${list(by('published'))}`,
      `  gold without a ledger record, not sent (--republish sends it once): ${list(by('foreign'))}`,
    );
  }
  if (plan.publication) lines.push(...formatPublication(plan.publication));
  if (plan.badBronzeFiles?.length)
    lines.push('Bronze files that look unreadable:', ...plan.badBronzeFiles.map((f) => `  ${describeBadFile(f)}`));
  if (plan.taskPriority) lines.push(`Temporal tasks: ${describeTaskPriority(plan.taskPriority)}`);
  if (estimate) lines.push(...formatEstimate(estimate));
  return lines;
}

/** The settings the chunk's run starts with (tier from its bronze bytes, --spark-conf on top), else the estimate's workers. */
function sparkColumn(plan: DryRunPlan, i: number, cost: CostEstimate['chunks'][number] | undefined): string {
  const sized = plan.sizing?.[i];
  if (sized) return `${sized.tier ?? 'default'}: ${describeSettings(sized.conf) || 'runner defaults'}`;
  return cost ? `${cost.size}, 1+${cost.executors} workers` : '-';
}

export function formatEstimate(e: CostEstimate): string[] {
  const a = e.assumptions;
  return [
    `Estimated EMR Serverless cost: ${formatUsd(e.usd)} (${e.vcpuHours.toFixed(2)} vCPU-hours, ${e.gbHours.toFixed(2)} GB-hours) for ${formatBytes(e.inputBytes)} of bronze read`,
    `  prices: $${e.prices.vcpuHour} per vCPU-hour, $${e.prices.gbHour} per GB-hour (change with --price-vcpu-hour, --price-gb-hour)`,
    `  model: driver + executors per the tuning table by the bronze each chunk reads (sparkConf overrides), each chunk ${a.overheadSeconds} s overhead + ` +
      `bronze at ${a.mibPerCoreSecond} MiB/s per executor core (--assumed-throughput), at least ${a.minBilledSeconds} s billed per worker; see docs/guide.md`,
  ];
}
