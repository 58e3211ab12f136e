/**
 * The dry run (inspectLake): what a backfill would read, write and send, from the same ledger
 * rules as a real run, and the settings each chunk's Spark run would start with.
 */
import { addDays, dateRange } from '../../common/dates';
import type { BackfillRequest } from '../../common/input';
import { planChunks } from '../../common/plan';
import { dayPublisher, dayTargets } from '../../common/publication-plan';
import type { BadBronzeFile } from '../../common/bad-input';
import type { DryRunDay, DryRunPlan } from '../../common/results';
import type { Backends, Lake } from '../backends';
import { bronzePartition } from '../lake-paths';
import { hasGold, readStates } from '../ledger/day-states';
import { goldDecision, publishAction, type DayState } from '../ledger/records';
import { bronzeBytesFrom, chunkSettings } from '../spark/sizing';
import { checkBronzeFiles } from './bronze-check';
import { dryRunPublication } from './publication-estimate';

export async function inspectLake(
  { lake, sparkSizes }: Pick<Backends, 'lake' | 'sparkSizes'>,
  request: BackfillRequest,
): Promise<DryRunPlan> {
  const bronze = await surveyBronze(lake, request);
  const states = await readStates(lake, request, dateRange(request.startDate, request.endDate));
  const days = states.map((s) => ({
    ...dryRunDay(s, request, bronze.present[s.dt] !== undefined),
    stores: dayTargets(request.publication, s.dt),
    publishWith: dayPublisher(request.publication, s.dt),
  }));
  const existing = states.filter(hasGold).map((s) => s.dt);
  const chunks = planChunks(request.startDate, request.endDate, request.chunkSizeDays);
  return {
    chunks,
    // The settings each chunk's run would start with (spark/sizing.ts), from the same byte counts.
    sizing: chunks.map((c) => ({
      chunkId: c.id,
      ...chunkSettings(sparkSizes, bronzeBytesFrom(request, c, bronze.present), request.sparkConf),
    })),
    bronzePresent: bronze.present,
    bronzeMissing: bronze.missing,
    goldExisting: existing,
    wouldSkip: days.filter((d) => d.gold === 'keep' && existing.includes(d.dt)).map((d) => d.dt),
    wouldOverwrite: days.filter((d) => d.gold === 'compute' && existing.includes(d.dt)).map((d) => d.dt),
    days,
    foreign: days.filter((d) => d.publish === 'foreign').map((d) => d.dt),
    badBronzeFiles: bronze.bad,
    publication: dryRunPublication(request.publication, states, bronze.present),
  };
}

/** The bronze the chunks would read: bytes per present day, missing days, and files that look bad. */
async function surveyBronze(
  lake: Lake,
  request: BackfillRequest,
): Promise<{ present: Record<string, number>; missing: string[]; bad: BadBronzeFile[] }> {
  const present: Record<string, number> = {};
  const missing: string[] = [];
  const bad: BadBronzeFile[] = [];
  // The chunk days plus the lookback day before and the lateness days after, as the job reads.
  for (const dt of dateRange(addDays(request.startDate, -1), addDays(request.endDate, request.allowedLatenessDays))) {
    const files = await lake.list(bronzePartition(request, dt));
    if (files.length > 0) present[dt] = files.reduce((s, f) => s + f.size, 0);
    else missing.push(dt);
    // Empty files and files whose first bytes do not match their name (a cheap check: a gzip
    // file cut short in the middle is found only by the job).
    bad.push(...(await checkBronzeFiles(lake, files)));
  }
  return { present, missing, bad };
}

function dryRunDay(state: DayState, request: BackfillRequest, bronze: boolean): DryRunDay {
  const decision = goldDecision(state, request, request.resumeRunId ?? '');
  if (decision.action === 'compute' && !bronze) {
    // The job writes nothing for a day without bronze: its current gold, if any, stays.
    return { dt: state.dt, gold: 'keep', reason: 'coverage_gap', publish: publishAction(state, request) };
  }
  const publish = decision.action === 'compute' ? 'send' : publishAction(state, request);
  return { dt: state.dt, gold: decision.action, reason: decision.reason, publish };
}
