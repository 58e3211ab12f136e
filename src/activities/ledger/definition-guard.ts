/**
 * The definition-change guard: a version's gold days must all come from one definition and one
 * transform code (one build fingerprint, fingerprint.ts). A backfill that would add
 * days of version V built with another fingerprint than V's days already in the ledger is refused
 * before any work, unless the request accepts the change (acceptDefinitionChange).
 */
import { addDays, dateRange } from '../../common/dates';
import { InputError, type BackfillRequest } from '../../common/input';
import { planChunks } from '../../common/plan';
import type { Lake } from '../backends';
import { goldCommitDir, goldDecision, readDayState, type GoldCommit } from './records';

/** The fingerprints a request is judged against: the current build's, and the definition-only one. */
export interface Fingerprints {
  build: string;
  /** What commits written before the build fingerprint recorded (definition only). */
  definition: string;
}

/** Days of the version built with another fingerprint than the current one. */
export interface DefinitionChange {
  featureVersion: string;
  fingerprint: string;
  /** Each other fingerprint found, with the days built with it (sorted). */
  previous: { fingerprint: string; days: string[] }[];
}

/**
 * Refuses (InputError on acceptDefinitionChange) a request that would compute days of a version
 * whose built days have another fingerprint. Returns the change when there is one and it is accepted.
 */
export async function guardDefinitionChange(
  lake: Lake,
  request: BackfillRequest,
  current: Fingerprints,
): Promise<DefinitionChange | undefined> {
  const change = await definitionChange(lake, request, current);
  if (!change || !(await wouldComputeAny(lake, request))) return undefined;
  if (request.acceptDefinitionChange) return change;
  const previous = change.previous
    .map((p) => `${p.fingerprint} (${p.days.length} days: ${formatDayList(p.days)})`)
    .join('; ');
  throw new InputError(
    'acceptDefinitionChange',
    `feature version ${change.featureVersion} would mix definitions: its days built so far have fingerprint ${previous}, ` +
      `this run builds with fingerprint ${change.fingerprint} (definitions.json entry or transform code changed). ` +
      `Define a new version instead (e.g. "${change.featureVersion}_corrected" in definitions.json), or accept the change ` +
      `with --accept-definition-change (acceptDefinitionChange: true) and rebuild the old days with --overwrite`,
  );
}

/** The version's committed days whose fingerprint differs from the current one, if any. */
export async function definitionChange(
  lake: Lake,
  request: BackfillRequest,
  current: Fingerprints,
): Promise<DefinitionChange | undefined> {
  const byFingerprint = new Map<string, string[]>();
  for (const commit of await versionCommits(lake, request)) {
    const recorded = commitFingerprint(commit, current);
    if (recorded === undefined || recorded === current.build) continue;
    byFingerprint.set(recorded, [...(byFingerprint.get(recorded) ?? []), commit.dt]);
  }
  if (byFingerprint.size === 0) return undefined;
  const previous = [...byFingerprint].map(([fingerprint, days]) => ({ fingerprint, days: days.sort() }));
  return { featureVersion: request.featureVersion, fingerprint: current.build, previous };
}

/**
 * The build fingerprint a commit stands for, comparable with current.build: a commit from before
 * the build fingerprint (no definition_fingerprint) matches when its definition hash does. Undefined
 * for gold adopted from outside the ledger, whose definition is unknown.
 */
export function commitFingerprint(commit: GoldCommit, current: Fingerprints): string | undefined {
  if (commit.run_id === 'foreign' || !commit.fingerprint || commit.fingerprint === 'unknown') return undefined;
  if (commit.definition_fingerprint) return commit.fingerprint;
  return commit.fingerprint === current.definition ? current.build : commit.fingerprint;
}

/** Every gold commit of the request's version (all days, not only the range's). */
async function versionCommits(lake: Lake, request: BackfillRequest): Promise<GoldCommit[]> {
  const uris = (await lake.list(goldCommitDir(request)))
    .map((f) => f.uri)
    .filter((u) => /\/dt=\d{4}-\d{2}-\d{2}\.json$/.test(u));
  const out: GoldCommit[] = [];
  // A few years of days are a few thousand small reads: 16 at a time keeps preflight within seconds on S3.
  for (let i = 0; i < uris.length; i += 16) {
    const texts = await Promise.all(uris.slice(i, i + 16).map((u) => lake.readText(u)));
    for (const text of texts) if (text) out.push(JSON.parse(text) as GoldCommit);
  }
  return out;
}

/** Whether the run would compute (add or replace) at least one day, by the Spark step's own rule. */
async function wouldComputeAny(lake: Lake, request: BackfillRequest): Promise<boolean> {
  const chunks = planChunks(request.startDate, request.endDate, request.chunkSizeDays).filter(
    (c) => !request.onlyChunks || request.onlyChunks.includes(c.id),
  );
  for (const chunk of chunks) {
    for (const dt of dateRange(chunk.startDate, chunk.endDate)) {
      const state = await readDayState(lake, request, dt);
      if (goldDecision(state, request, request.resumeRunId ?? '').action === 'compute') return true;
    }
  }
  return false;
}

/** Sorted days as ranges: 2025-10-01..2025-10-03, 2025-10-07. */
function formatDayList(days: string[]): string {
  const parts: string[] = [];
  let first = days[0];
  for (let i = 1; i <= days.length; i++) {
    if (i < days.length && days[i] === addDays(days[i - 1], 1)) continue;
    const last = days[i - 1];
    parts.push(first === last ? first : `${first}..${last}`);
    first = days[i];
  }
  return parts.join(', ');
}
