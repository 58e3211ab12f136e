/**
 * The overlap lease: one small workflow per (lake, feature version) keeps which backfills hold
 * which days (older ones, per (feature group, version), run the same code: src/activities/ledger/lease-key.ts).
 * A backfill asks for its days with an update (update-with-start); the workflow handles updates one
 * at a time, so two overlapping backfills asking at once cannot both get them.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { FAILURE } from '../common/failures';
import {
  acquireLeaseUpdate,
  conflictsOf,
  leaseHoldersQuery,
  releaseLeaseUpdate,
  type AcquireRequest,
  type BackfillLeaseWorkflow,
  type LeaseAnswer,
  type LeaseHolder,
  type LeaseWorkflowInput,
  type ReleaseRequest,
} from '../common/lease';

/** With no holder for this long the lease workflow ends; the next backfill starts it again. */
export const LEASE_IDLE_MS = 10 * 60_000;
/** Each update adds a few events; past this many a run hands its holders to a fresh one. */
export const LEASE_EVENTS_PER_RUN = 2000;

/** Which backfills hold which days; the handlers of the lease workflow call these. */
export class LeaseHolders {
  readonly holders: LeaseHolder[];

  constructor(holders: LeaseHolder[] = []) {
    this.holders = [...holders];
  }

  get size(): number {
    return this.holders.length;
  }

  /** Grants the days unless another holder has some of them (then names it and the shared days). */
  acquire(request: AcquireRequest): LeaseAnswer {
    const conflicts = conflictsOf(this.holders, request);
    if (conflicts.length > 0) return { granted: false, conflicts };
    // The same workflow id asking again (a retried activity, or the id started again after
    // its previous execution died) replaces its hold: only one execution of an id runs at a time.
    const own = this.holders.findIndex((h) => h.holder === request.holder);
    if (own >= 0) this.holders.splice(own, 1);
    this.holders.push({ ...request, since: Date.now() });
    return { granted: true, conflicts: [] };
  }

  /** Ends a hold (of that run only, when given); false when there was none. */
  release({ holder, runId }: ReleaseRequest): boolean {
    const at = this.holders.findIndex((h) => h.holder === holder && (runId === undefined || h.runId === runId));
    if (at < 0) return false;
    this.holders.splice(at, 1);
    return true;
  }
}

/** The acquire update's validator: a holder and a range of dates. */
function checkAcquire(request: AcquireRequest): void {
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
}

export async function backfillLeaseWorkflow(input: LeaseWorkflowInput): Promise<void> {
  refuseForgedHolders(input);
  const lease = new LeaseHolders(input.holders);
  setHandler(acquireLeaseUpdate, (request) => lease.acquire(request), { validator: checkAcquire });
  setHandler(releaseLeaseUpdate, (request) => lease.release(request));
  setHandler(leaseHoldersQuery, () => lease.holders);

  const eventsPerRun = input.eventsPerRun ?? LEASE_EVENTS_PER_RUN;
  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > eventsPerRun;
  for (;;) {
    // Ends only when idle, so no hold is ever lost; an idle lease costs nothing but would
    // otherwise stay open forever for every (lake, version) ever backfilled.
    const busy = await condition(() => lease.size > 0 || historyFull(), input.idleMs ?? LEASE_IDLE_MS);
    if (!busy) {
      await condition(allHandlersFinished);
      if (lease.size === 0) return;
    }
    await condition(() => lease.size === 0 || historyFull());
    if (historyFull()) {
      // Handlers first, so no update is lost between runs.
      await condition(allHandlersFinished);
      await continueAsNew<typeof backfillLeaseWorkflow>({ ...input, holders: lease.holders });
    }
  }
}

// The signature the lease activities start this workflow with.
backfillLeaseWorkflow satisfies BackfillLeaseWorkflow;

/**
 * Holders are handed on only by this workflow's own continue-as-new. A start with holders of its own
 * (anyone with namespace access can start it) would refuse every backfill of those days: fail at once.
 */
function refuseForgedHolders(input: LeaseWorkflowInput): void {
  const { continuedFromExecutionRunId, cronSchedule, attempt } = workflowInfo();
  if (!input.holders?.length || (continuedFromExecutionRunId && !cronSchedule && attempt === 1)) return;
  throw ApplicationFailure.nonRetryable(
    'invalid input: holders are accepted only from a run of this lease continuing as new; ' +
      'a lease is started with no holders by the backfills that ask for it',
    FAILURE.invalidInput,
    { field: 'holders' },
  );
}
