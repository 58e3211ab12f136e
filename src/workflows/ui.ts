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

/** What the backfill's current details are drawn from (counts and sums: the chunk list may be folded). */
export interface BackfillView {
  workflowId: string;
  request?: BackfillRequest;
  phase: BackfillPhase;
  maxConcurrentChunks: number;
  waitingFor?: string;
  counts: { total: number; succeeded: number; failed: number; running: number; pending: number };
  totals: { rows: number; records: number; deadLettered: number };
  /** Failed and cancelled chunks kept in full (a large backfill keeps the first ones). */
  failedChunks: ChunkSummary[];
  /** Mean duration of the chunks finished so far (ms), for the ETA. */
  meanChunkMs?: number;
}

const MAX_FAILED_LISTED = 20;

/** The backfill's current details (markdown): status, chunk counts, rows and records, ETA, failures. */
export function backfillDetails(view: BackfillView): string {
  const { counts, request, failedChunks } = view;
  const lines: string[] = [];
  const what = request
    ? `${request.featureGroup} (${request.featureVersion}) ${formatRange(request.startDate, request.endDate)}`
    : 'backfill';
  lines.push(`**Status: ${view.phase}**, ${what}`);
  if (view.waitingFor) lines.push(`Waiting for ${view.waitingFor}`);
  lines.push(
    '| chunks | done | failed | running | pending |',
    '| --- | --- | --- | --- | --- |',
    `| ${counts.total} | ${counts.succeeded} | ${counts.failed} | ${counts.running} | ${counts.pending} |`,
  );
  lines.push(
    `Rows written: ${formatCount(view.totals.rows)}; records ingested: ${formatCount(view.totals.records)}; ` +
      `dead-lettered: ${formatCount(view.totals.deadLettered)}`,
  );
  const eta = etaText(view);
  if (eta) lines.push(`ETA: ${eta}`);
  if (counts.failed) {
    lines.push('', `**Failed chunks (${counts.failed})**`);
    for (const c of failedChunks.slice(0, MAX_FAILED_LISTED)) {
      lines.push(
        `- ${formatRange(c.chunk.startDate, c.chunk.endDate)}: ${c.error ? `at **${c.error.step}**: ${oneLine(c.error.message)}` : c.status}`,
      );
    }
    const more = counts.failed - Math.min(failedChunks.length, MAX_FAILED_LISTED);
    if (more > 0) lines.push(`- and ${more} more (backfill status ${view.workflowId})`);
    lines.push('', `Run them again: \`backfill retry-failed ${view.workflowId}\``);
  }
  return lines.join('\n');
}

/** Remaining chunks x mean chunk time / concurrency; none until a chunk has finished. */
function etaText(view: BackfillView): string | undefined {
  if (view.phase !== 'running') return undefined;
  const left = view.counts.pending + view.counts.running;
  if (view.meanChunkMs === undefined || !left) return undefined;
  const ms = (left * view.meanChunkMs) / Math.max(1, view.maxConcurrentChunks);
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
export function chunkDetails(
  chunk: ChunkSpec,
  steps: { done: string[]; running: string[]; failed?: { step: string; message: string } },
): string {
  const lines = [`**${chunkStaticSummary(chunk)}**`];
  if (steps.running.length) lines.push(`Step: **${steps.running.join(' + ')}** running`);
  if (steps.done.length) lines.push(`Done: ${steps.done.join(', ')}`);
  if (steps.failed) lines.push(`Failed at **${steps.failed.step}**: ${oneLine(steps.failed.message)}`);
  if (!steps.running.length && !steps.failed && steps.done.includes('validate')) lines.push('Succeeded');
  return lines.join('\n\n');
}
