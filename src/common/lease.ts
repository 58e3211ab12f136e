/**
 * The overlap lease's interface (src/workflows/lease.ts runs it): the days a backfill holds, the
 * updates and query that ask for them, and the lease workflow's id. Shared by the lease workflow,
 * the lease activities that call it and the backfill workflow that reports conflicts.
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
}

export type AcquireRequest = Omit<LeaseHolder, 'since'>;

/** A holder in the way, with the days it shares with the request. */
export interface LeaseConflict {
  holder: string;
  runId: string;
  shared: DayRange;
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
  featureGroup: string;
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
    return shared ? [{ holder: h.holder, runId: h.runId, shared }] : [];
  });
}

/** E.g. `backfill-fg-v1-2025-10-01-2025-10-04 (days 2025-10-02..2025-10-04)`. */
export function describeConflicts(conflicts: LeaseConflict[]): string {
  return conflicts.map((c) => `${c.holder} (days ${formatDays(c.shared)})`).join(', ');
}

/** The lease workflow's signature (src/workflows/lease.ts), for starting it by name. */
export type BackfillLeaseWorkflow = (input: LeaseWorkflowInput) => Promise<void>;
