/**
 * What the Temporal Web UI shows of a backfill (user metadata): the one-line summaries of chunk
 * children and activities, and the markdown "current details" of the backfill and chunk workflows.
 * Pure text from workflow state: deterministic, no I/O.
 */
import type { BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';
import type { ChunkSummary } from '../common/results';
import type { BackfillPhase } from './api';

/** `2025-10-01..2025-10-02`, or the one day. */
export function formatRange(start: string, end: string): string {
  return start === end ? start : `${start}..${end}`;
}

/** 12345 -> `12,345` (no Intl in workflow code, whose locale data we do not rely on). */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function chunkDays(chunk: ChunkSpec): string {
  return `${formatRange(chunk.startDate, chunk.endDate)} (${chunk.days} day${chunk.days === 1 ? '' : 's'})`;
}

/** The static summary of a chunk child: its dates and size. */
export function chunkStaticSummary(chunk: ChunkSpec): string {
  return `chunk ${chunkDays(chunk)}`;
}

/** The static details of a chunk child: what it computes and where it publishes. */
export function chunkStaticDetails(request: BackfillRequest, chunk: ChunkSpec): string {
  return [
    `**${request.featureGroup}** (feature version ${request.featureVersion}), days ${chunkDays(chunk)}`,
    `lake \`${request.bucket}\`${request.overwrite ? ', overwrite' : ''}${request.republish ? ', republish' : ''}`,
  ].join('\n\n');
}

/** One-line summaries of the activities, saying what each does to what. */
export const activitySummary = {
  spark(request: BackfillRequest, chunk: ChunkSpec): string {
    const days = formatRange(chunk.startDate, chunk.endDate);
    return request.emr ? `EMR job for ${days} on app ${request.emr.appId}` : `Spark job (local) for ${days}`;
  },
  catalog(request: BackfillRequest, chunk: ChunkSpec): string {
    const how = request.glue ? ` (crawler ${request.glue.crawlerName})` : '';
    return `catalog refresh for ${formatRange(chunk.startDate, chunk.endDate)}${how}`;
  },
  ingest(request: BackfillRequest, chunk: ChunkSpec): string {
    return `ingest ${formatRange(chunk.startDate, chunk.endDate)} into ${request.featureGroup}`;
  },
  validate(chunk: ChunkSpec): string {
    return `validate chunk ${formatRange(chunk.startDate, chunk.endDate)}`;
  },
  preflight(request: BackfillRequest): string {
    return `preflight checks for ${request.featureGroup} ${formatRange(request.startDate, request.endDate)}`;
  },
  inspectLake(request: BackfillRequest): string {
    return `dry run: inspect the lake for ${formatRange(request.startDate, request.endDate)}`;
  },
  lease(verb: 'take' | 'wait for' | 'release', request: BackfillRequest): string {
    return `${verb} the overlap lease on ${request.featureGroup} ${request.featureVersion} ${formatRange(request.startDate, request.endDate)}`;
  },
};

/** What the backfill's current details are drawn from. */
export interface BackfillView {
  workflowId: string;
  request?: BackfillRequest;
  phase: BackfillPhase;
  chunks: ChunkSummary[];
  maxConcurrentChunks: number;
  waitingFor?: string;
}

const MAX_FAILED_LISTED = 20;

/** The backfill's current details (markdown): status, chunk counts, rows and records, ETA, failures. */
export function backfillDetails(view: BackfillView): string {
  const { chunks, request } = view;
  const count = (s: ChunkSummary['status']) => chunks.filter((c) => c.status === s).length;
  const sum = (f: (c: ChunkSummary) => number | undefined) => chunks.reduce((s, c) => s + (f(c) ?? 0), 0);
  const failed = chunks.filter((c) => c.status === 'failed' || c.status === 'cancelled');
  const lines: string[] = [];
  const what = request ? `${request.featureGroup} (${request.featureVersion}) ${formatRange(request.startDate, request.endDate)}` : 'backfill';
  lines.push(`**Status: ${view.phase}**, ${what}`);
  if (view.waitingFor) lines.push(`Waiting for ${view.waitingFor}`);
  lines.push(
    '| chunks | done | failed | running | pending |',
    '| --- | --- | --- | --- | --- |',
    `| ${chunks.length} | ${count('succeeded')} | ${failed.length} | ${count('running')} | ${count('pending')} |`,
  );
  lines.push(
    `Rows written: ${formatCount(sum((c) => c.rows))}; records ingested: ${formatCount(sum((c) => c.recordsWritten))}; ` +
      `dead-lettered: ${formatCount(sum((c) => c.failedRecords))}`,
  );
  const eta = etaText(view);
  if (eta) lines.push(`ETA: ${eta}`);
  if (failed.length) {
    lines.push('', `**Failed chunks (${failed.length})**`);
    for (const c of failed.slice(0, MAX_FAILED_LISTED)) {
      lines.push(`- ${formatRange(c.chunk.startDate, c.chunk.endDate)}: ${c.error ? `at **${c.error.step}**: ${oneLine(c.error.message)}` : c.status}`);
    }
    if (failed.length > MAX_FAILED_LISTED) lines.push(`- and ${failed.length - MAX_FAILED_LISTED} more (backfill status ${view.workflowId})`);
    lines.push('', `Run them again: \`backfill retry-failed ${view.workflowId}\``);
  }
  return lines.join('\n');
}

/** Remaining chunks x mean chunk time / concurrency; none until a chunk has finished. */
function etaText(view: BackfillView): string | undefined {
  if (view.phase !== 'running') return undefined;
  const finished = view.chunks.filter((c) => c.startedAt !== undefined && c.finishedAt !== undefined && c.status === 'succeeded');
  const left = view.chunks.filter((c) => c.status === 'pending' || c.status === 'running').length;
  if (!finished.length || !left) return undefined;
  const mean = finished.reduce((s, c) => s + (c.finishedAt! - c.startedAt!), 0) / finished.length;
  const ms = (left * mean) / Math.max(1, view.maxConcurrentChunks);
  return `about ${formatDuration(ms)} (${left} chunk${left === 1 ? '' : 's'} left)`;
}

function formatDuration(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/** A chunk workflow's current details: the steps done, the ones running, and a failure. */
export function chunkDetails(chunk: ChunkSpec, steps: { done: string[]; running: string[]; failed?: { step: string; message: string } }): string {
  const lines = [`**${chunkStaticSummary(chunk)}**`];
  if (steps.running.length) lines.push(`Step: **${steps.running.join(' + ')}** running`);
  if (steps.done.length) lines.push(`Done: ${steps.done.join(', ')}`);
  if (steps.failed) lines.push(`Failed at **${steps.failed.step}**: ${oneLine(steps.failed.message)}`);
  if (!steps.running.length && !steps.failed && steps.done.includes('validate')) lines.push('Succeeded');
  return lines.join('\n\n');
}
