/**
 * The overlap lease: one small workflow per (feature group, version) keeps which backfills hold
 * which days. A backfill asks for its days with an update (update-with-start); the workflow handles
 * updates one at a time, so two overlapping backfills asking at once cannot both get them.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineUpdate,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';

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
   * @default LEASE_IDLE_MS (10 minutes)
   */
  idleMs?: number;
  /**
   * Past this many history events a run hands its holders to a fresh one.
   * @default LEASE_EVENTS_PER_RUN (2000)
   */
  eventsPerRun?: number;
}

/** Grants the days when no other holder has any of them; the same holder asking again is granted again. */
export const acquireLeaseUpdate = defineUpdate<LeaseAnswer, [AcquireRequest]>('acquire');
/** Returns whether a hold was released. */
export const releaseLeaseUpdate = defineUpdate<boolean, [ReleaseRequest]>('release');
export const leaseHoldersQuery = defineQuery<LeaseHolder[]>('holders');

/** With no holder for this long the lease workflow ends; the next backfill starts it again. */
export const LEASE_IDLE_MS = 10 * 60_000;
/** Each update adds a few events; past this many a run hands its holders to a fresh one. */
export const LEASE_EVENTS_PER_RUN = 2000;

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

export async function backfillLeaseWorkflow(input: LeaseWorkflowInput): Promise<void> {
  const holders: LeaseHolder[] = [...(input.holders ?? [])];

  setHandler(
    acquireLeaseUpdate,
    (request) => {
      const conflicts = conflictsOf(holders, request);
      if (conflicts.length > 0) return { granted: false, conflicts };
      // The same workflow id asking again (a retried activity, or the id started again after
      // its previous execution died) replaces its hold: only one execution of an id runs at a time.
      const own = holders.findIndex((h) => h.holder === request.holder);
      if (own >= 0) holders.splice(own, 1);
      holders.push({ ...request, since: Date.now() });
      return { granted: true, conflicts: [] };
    },
    {
      validator: (request) => {
        const date = /^\d{4}-\d\d-\d\d$/;
        if (
          !request.holder ||
          !date.test(request.startDate) ||
          !date.test(request.endDate) ||
          request.endDate < request.startDate
        ) {
          throw new Error(
            `lease request needs a holder and startDate <= endDate (YYYY-MM-DD), got ${JSON.stringify(request)}`,
          );
        }
      },
    },
  );
  setHandler(releaseLeaseUpdate, ({ holder, runId }) => {
    const at = holders.findIndex((h) => h.holder === holder && (runId === undefined || h.runId === runId));
    if (at < 0) return false;
    holders.splice(at, 1);
    return true;
  });
  setHandler(leaseHoldersQuery, () => holders);

  const eventsPerRun = input.eventsPerRun ?? LEASE_EVENTS_PER_RUN;
  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > eventsPerRun;
  for (;;) {
    // Ends only when idle, so no hold is ever lost; an idle lease costs nothing but would
    // otherwise stay open forever for every (group, version) ever backfilled.
    const busy = await condition(() => holders.length > 0 || historyFull(), input.idleMs ?? LEASE_IDLE_MS);
    if (!busy) {
      await condition(allHandlersFinished);
      if (holders.length === 0) return;
    }
    await condition(() => holders.length === 0 || historyFull());
    if (historyFull()) {
      // Handlers first, so no update is lost between runs.
      await condition(allHandlersFinished);
      await continueAsNew<typeof backfillLeaseWorkflow>({ ...input, holders });
    }
  }
}
