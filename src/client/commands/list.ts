/** `backfill list`: recent backfills, from the search attributes the workflow keeps current. */
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../workflows/api';
import { connectTemporal } from '../connect';
import { EXIT, type Io } from '../io';
import { table } from '../report';
import { integerFlag, parseFlags, UsageError, wantsHelp } from '../usage';

const STATUSES = [
  'running',
  'paused',
  'waiting',
  'cancelling',
  'succeeded',
  'partially_failed',
  'failed',
  'cancelled',
  'dry_run',
];

export const LIST_HELP = `Usage: backfill list [--feature-group NAME] [--feature-version VER] [--status STATUS] [--limit N] [--json]

List recent backfills, newest first, with their status and chunks done (the search attributes
BackfillFeatureGroup, BackfillFeatureVersion, BackfillStatus, BackfillChunksDone, BackfillChunksTotal).

Options:
  --feature-group NAME          only backfills into this feature group
  --feature-version VER         only backfills of this feature version
  --status STATUS               only backfills in this state: ${STATUSES.join(', ')}
  --limit N                     at most N backfills (default 20)
  --json                        print them as JSON
  -h, --help                    this help

The same list in the Web UI or the temporal CLI:
  temporal workflow list --query "WorkflowType = 'backfillWorkflow' AND BackfillFeatureVersion = 'v2'"

Exit codes: 0 listed (even if none match), 2 bad usage.`;

interface BackfillListing {
  workflowId: string;
  status: string;
  featureGroup?: string;
  featureVersion?: string;
  chunksDone?: number;
  chunksTotal?: number;
  startTime: string;
  closeTime?: string;
}

export async function listCommand(argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(LIST_HELP);
    return EXIT.ok;
  }
  const { values } = parseFlags('list', argv, {
    'feature-group': { type: 'string' },
    'feature-version': { type: 'string' },
    status: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.status !== undefined && !STATUSES.includes(values.status)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}; got "${values.status}"`);
  }
  const limit = integerFlag(values.limit, '--limit') ?? 20;
  const query = listQuery({
    featureGroup: values['feature-group'],
    featureVersion: values['feature-version'],
    status: values.status,
  });

  const temporal = await connectTemporal();
  const found: BackfillListing[] = [];
  try {
    for await (const info of temporal.client.workflow.list({ query })) {
      found.push(listing(info));
      if (found.length >= limit) break;
    }
  } finally {
    await temporal.close();
  }
  if (values.json) {
    io.out(JSON.stringify(found, null, 2));
    return EXIT.ok;
  }
  if (found.length === 0) {
    io.out(`no backfills match (query: ${query})`);
    return EXIT.ok;
  }
  const rows = [['WORKFLOW ID', 'STATUS', 'CHUNKS', 'STARTED', 'CLOSED']];
  for (const b of found) {
    rows.push([
      b.workflowId,
      b.status,
      `${b.chunksDone ?? '?'}/${b.chunksTotal ?? '?'}`,
      shortTime(b.startTime),
      b.closeTime ? shortTime(b.closeTime) : '-',
    ]);
  }
  io.out(table(rows, [false, false, true, false, false], '').join('\n'));
  return EXIT.ok;
}

/** The visibility query: backfills only (not their chunk workflows), one row per backfill, not per run. */
export function listQuery(f: { featureGroup?: string; featureVersion?: string; status?: string }): string {
  const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const parts = [`WorkflowType = 'backfillWorkflow'`, `ExecutionStatus != 'ContinuedAsNew'`];
  if (f.featureGroup) parts.push(`${SEARCH_ATTRIBUTES.featureGroup.name} = ${quote(f.featureGroup)}`);
  if (f.featureVersion) parts.push(`${SEARCH_ATTRIBUTES.featureVersion.name} = ${quote(f.featureVersion)}`);
  if (f.status) parts.push(`${SEARCH_ATTRIBUTES.status.name} = ${quote(f.status)}`);
  return parts.join(' AND ');
}

function listing(info: WorkflowExecutionInfo): BackfillListing {
  const sa = info.typedSearchAttributes;
  const phase = sa.get(SEARCH_ATTRIBUTES.status);
  // BackfillStatus is the workflow's own word while it runs or once it completed; a terminated or
  // timed-out run never got to update it, so the server's status is the truth then.
  const status =
    info.status.name === 'RUNNING' || info.status.name === 'COMPLETED'
      ? (phase ?? info.status.name.toLowerCase())
      : info.status.name.toLowerCase();
  return {
    workflowId: info.workflowId,
    status,
    featureGroup: sa.get(SEARCH_ATTRIBUTES.featureGroup),
    featureVersion: sa.get(SEARCH_ATTRIBUTES.featureVersion),
    chunksDone: sa.get(SEARCH_ATTRIBUTES.chunksDone),
    chunksTotal: sa.get(SEARCH_ATTRIBUTES.chunksTotal),
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
  };
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
