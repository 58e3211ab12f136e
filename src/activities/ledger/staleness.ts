/**
 * Stale-day detection: which days of a version need building again. A day is stale when it was
 * never built, when the bronze its windows read changed since its gold commit (files added,
 * removed, or of another size, ETag or modification time: an upstream correction), or when it was
 * built with another fingerprint than the current definition and transform code.
 */
import type { BackfillRequest } from '../../common/input';
import type { Lake, LakeObject } from '../backends';
import { commitFingerprint, type Fingerprints } from './definition-guard';
import { bronzePartition } from '../lake-paths';
import { readDayState, type GoldCommit, type LineageFile } from './records';

export type StaleReason = 'never_built' | 'bronze_changed' | 'fingerprint_changed' | 'no_lineage';

export interface DayCheck {
  dt: string;
  stale: boolean;
  /** Empty for a current day. `no_lineage`: built before lineage or outside the ledger, cannot be judged. */
  reasons: StaleReason[];
  /** What changed, e.g. `changed dt=2025-10-02/part-0.json.gz (size 120 -> 98)`. */
  details: string[];
  /** The fingerprint the day was built with, when it was. */
  fingerprint?: string;
}

/** Checks each day of the request's range against the ledger and the bronze now in the lake. */
export async function checkDays(
  lake: Lake,
  request: BackfillRequest,
  days: string[],
  current: Fingerprints,
): Promise<DayCheck[]> {
  const listings = new Map<string, LakeObject[]>();
  const listing = async (partition: string) => {
    if (!listings.has(partition)) listings.set(partition, await lake.list(bronzePartition(request, partition)));
    return listings.get(partition)!;
  };
  const out: DayCheck[] = [];
  for (const dt of days) {
    const state = await readDayState(lake, request, dt);
    if (!state.commit) {
      const foreign = state.foreignFiles.length > 0;
      out.push({
        dt,
        stale: !foreign,
        reasons: [foreign ? 'no_lineage' : 'never_built'],
        details: foreign ? ['gold written outside the ledger'] : [],
      });
      continue;
    }
    out.push(await checkCommit(state.commit, current, listing));
  }
  return out;
}

async function checkCommit(
  commit: GoldCommit,
  current: Fingerprints,
  listing: (partition: string) => Promise<LakeObject[]>,
): Promise<DayCheck> {
  const check: DayCheck = { dt: commit.dt, stale: false, reasons: [], details: [], fingerprint: commit.fingerprint };
  const built = commitFingerprint(commit, current);
  if (built !== undefined && built !== current.build) {
    check.reasons.push('fingerprint_changed');
    check.details.push(`built with fingerprint ${commit.fingerprint}, current ${current.build}`);
  }
  if (!commit.lineage) {
    check.reasons.push('no_lineage');
    check.details.push(
      'committed without lineage (before it was recorded, or adopted foreign gold): bronze not compared',
    );
  } else {
    const found: LakeObject[] = [];
    for (const p of commit.lineage.bronze.partitions) found.push(...(await listing(p)));
    const changes = bronzeChanges(commit.lineage.bronze.files, found);
    if (changes.length) {
      check.reasons.push('bronze_changed');
      check.details.push(...changes);
    }
  }
  check.stale = check.reasons.some((r) => r !== 'no_lineage');
  return check;
}

/** Differences between the files a build read and the files there now, keyed by `dt=D/name`. */
function bronzeChanges(recorded: LineageFile[], now: LakeObject[]): string[] {
  const then = new Map(recorded.map((f) => [partitionKey(f.path), f]));
  const current = new Map(now.map((f) => [partitionKey(f.uri), f]));
  const out: string[] = [];
  for (const [key, f] of then) {
    const c = current.get(key);
    if (!c) out.push(`removed ${key}`);
    else if (c.size !== f.size) out.push(`changed ${key} (size ${f.size} -> ${c.size})`);
    else if (f.etag && c.etag) {
      if (f.etag !== c.etag) out.push(`changed ${key} (ETag ${f.etag} -> ${c.etag})`);
    } else if (typeof f.mtime === 'number' && c.mtime !== undefined && f.mtime !== c.mtime) {
      out.push(`changed ${key} (modified ${new Date(f.mtime).toISOString()} -> ${new Date(c.mtime).toISOString()})`);
    }
  }
  for (const key of current.keys()) if (!then.has(key)) out.push(`added ${key}`);
  return out;
}

/** `dt=D/name` of a bronze file: the same key whatever the lake root was called (symlink, s3a://). */
function partitionKey(uri: string): string {
  const i = uri.lastIndexOf('/dt=');
  return i >= 0 ? uri.slice(i + 1) : uri;
}
