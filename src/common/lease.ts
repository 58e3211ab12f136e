/**
 * The overlap lease's interface (src/workflows/lease.ts runs it): the days a backfill holds, the
 * updates and query that ask for them. Shared by the lease workflow, the lease activities that call
 * it and the backfill workflow that reports conflicts. The lease is keyed by (lake, feature version),
 * what writers share (gold, catalog and ledger are per version in a lake); the activities name its
 * workflow (src/activities/ledger/lease-key.ts). Leases taken before that were keyed by (group, version):
 * see leaseWorkflowId.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

/** A contiguous range of days, both ends included (YYYY-MM-DD). */
export interface DayRange {
  startDate: string;
  endDate: string;
}

export interface LeaseHolder extends DayRange {
  /** The backfill's workflow id. */
  holder: string;
  /** Its first execution's run id: stays the same across continue-as-new, changes when the id is started again. */
  runId: string;
  /** Workflow time (ms) the days were granted. */
  since: number;
  /** The holder's feature group, named in refusals (unset in holds taken before the lease was per lake). */
  featureGroup?: string;
  /**
   * Where the holder's Spark runs go (EMR Serverless: the application id; unset locally), so a
   * takeover can look for runs the holder left going.
   */
  sparkApplication?: string;
}

export type AcquireRequest = Omit<LeaseHolder, 'since'>;

/** A holder in the way, with the days it shares with the request. */
export interface LeaseConflict {
  holder: string;
  runId: string;
  shared: DayRange;
  featureGroup?: string;
  sparkApplication?: string;
  /**
   * Set when the holder's workflow no longer runs but Spark runs it started still do (they may
   * still write): their ids and states, e.g. `EMR job run 00fabc (RUNNING)`. Such a hold is kept.
   */
  runningJobs?: string[];
}

export interface LeaseAnswer {
  granted: boolean;
  conflicts: LeaseConflict[];
}

export interface ReleaseRequest {
  holder: string;
  /** Release only this execution's hold (a stale one), never a newer execution's of the same id. */
  runId?: string;
}

export interface LeaseWorkflowInput {
  /** The normalised lake root (src/activities/ledger/lease-key.ts); unset in a (group, version) lease. */
  lake?: string;
  /** Set only in a (group, version) lease, started before the lease was per lake. */
  featureGroup?: string;
  featureVersion: string;
  /** Holders carried over from the previous run (continue-as-new). */
  holders?: LeaseHolder[];
  /**
   * With no holder for this long (ms) the lease workflow ends.
   * @default 10 minutes (LEASE_IDLE_MS of src/workflows/lease.ts)
   */
  idleMs?: number;
  /**
   * Past this many history events a run hands its holders to a fresh one.
   * @default 2000 (LEASE_EVENTS_PER_RUN of src/workflows/lease.ts)
   */
  eventsPerRun?: number;
}

/** Grants the days when no other holder has any of them; the same holder asking again is granted again. */
export const acquireLeaseUpdate = defineUpdate<LeaseAnswer, [AcquireRequest]>('acquire');
/** Returns whether a hold was released. */
export const releaseLeaseUpdate = defineUpdate<boolean, [ReleaseRequest]>('release');
export const leaseHoldersQuery = defineQuery<LeaseHolder[]>('holders');

/**
 * The id of a lease of the earlier (feature group, version) kind. Backfills started before the lease
 * was per lake hold such a lease: their acquire and release (recorded without a lake) still go to it,
 * a new backfill consults it for its own group as well, and a release clears it (lease-key.ts).
 */
export function leaseWorkflowId(featureGroup: string, featureVersion: string): string {
  return `backfill-lease-${featureGroup}-${featureVersion}`;
}

/** The days two ranges share, if any (ISO dates compare as strings). */
export function sharedDays(a: DayRange, b: DayRange): DayRange | undefined {
  const startDate = a.startDate > b.startDate ? a.startDate : b.startDate;
  const endDate = a.endDate < b.endDate ? a.endDate : b.endDate;
  return startDate <= endDate ? { startDate, endDate } : undefined;
}

export function formatDays(r: DayRange): string {
  return r.startDate === r.endDate ? r.startDate : `${r.startDate}..${r.endDate}`;
}

/** The holders (other than the asker) sharing days with the request. */
export function conflictsOf(holders: LeaseHolder[], request: AcquireRequest): LeaseConflict[] {
  return holders.flatMap((h) => {
    const shared = h.holder === request.holder ? undefined : sharedDays(h, request);
    if (!shared) return [];
    const conflict: LeaseConflict = { holder: h.holder, runId: h.runId, shared };
    if (h.featureGroup !== undefined) conflict.featureGroup = h.featureGroup;
    if (h.sparkApplication !== undefined) conflict.sparkApplication = h.sparkApplication;
    return [conflict];
  });
}

/**
 * E.g. `backfill-fg-v1-2025-10-01-2025-10-04 (group fg, days 2025-10-02..2025-10-04)`, and for an
 * ended holder whose Spark runs go on, `...; ended, but its Spark run EMR job run 00f (RUNNING) still runs)`.
 */
export function describeConflicts(conflicts: LeaseConflict[]): string {
  return conflicts
    .map((c) => {
      const group = c.featureGroup !== undefined ? `group ${c.featureGroup}, ` : '';
      const jobs = c.runningJobs?.length
        ? `; its workflow has ended but its Spark run ${c.runningJobs.join(', ')} still runs`
        : '';
      return `${c.holder} (${group}days ${formatDays(c.shared)}${jobs})`;
    })
    .join(', ');
}

/** The lease workflow's signature (src/workflows/lease.ts), for starting it by name. */
export type BackfillLeaseWorkflow = (input: LeaseWorkflowInput) => Promise<void>;
