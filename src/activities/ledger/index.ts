/**
 * The ledger step's activities: the overlap lease (lease.ts, lease-key.ts). They need a Temporal
 * client, injected by the worker (built on its connection), and the worker's Spark runner, to see
 * whether an ended holder left runs going; so the worker creates them beside createActivities().
 * The rest of the ledger (records.ts, day-states.ts, lineage in definition-guard.ts and
 * fingerprint.ts, staleness.ts) is read and written by the other steps.
 */
import { Context } from '@temporalio/activity';
import type { AcquireRequest, LeaseAnswer } from '../../common/lease';
import { LeaseDesk, type AcquireLeaseInput, type LeaseActivityOptions, type ReleaseLeaseInput } from './lease';
import { leaseKeyOf, legacyLeaseKey } from './lease-key';

export type { AcquireLeaseInput, LeaseActivityOptions, ReleaseLeaseInput } from './lease';

export function createLeaseActivities(options: LeaseActivityOptions) {
  const desk = new LeaseDesk(options.client, options.spark);
  const pollIntervalMs = options.pollIntervalMs ?? 5000;
  const waitSliceMs = options.waitSliceMs ?? 600_000;

  return {
    /** Asks for the days; on a conflict, frees stale holds, and with `wait` waits up to one slice. */
    async acquireLease(input: AcquireLeaseInput): Promise<LeaseAnswer> {
      const ctx = Context.current();
      const request = acquireRequestOf(input);
      const deadline = Date.now() + waitSliceMs;
      let seen = await desk.look(input, request, false);
      while (!seen.answer.granted) {
        if (await desk.releaseStale(input, seen)) {
          seen = await desk.look(input, request, false);
          continue;
        }
        if (!input.wait || Date.now() >= deadline) return seen.answer;
        ctx.heartbeat({ waitingFor: seen.answer.conflicts });
        await ctx.sleep(pollIntervalMs); // rejects when the activity is cancelled
        seen = await desk.look(input, request, true);
      }
      return seen.answer;
    },

    /** Gives the days back (and any hold of the (group, version) lease); nothing to do when a lease workflow is gone. */
    async releaseLease(input: ReleaseLeaseInput): Promise<boolean> {
      const hold = { holder: input.holder, runId: input.runId };
      const lease = leaseKeyOf(input);
      const released = await desk.release(lease, hold);
      // A backfill that took its lease before the upgrade holds the (group, version) one.
      const legacy = lease.lake !== undefined && (await desk.release(legacyLeaseKey(input), hold));
      return released || legacy;
    },
  };
}

export type LeaseActivities = ReturnType<typeof createLeaseActivities>;

function acquireRequestOf(input: AcquireLeaseInput): AcquireRequest {
  return {
    holder: input.holder,
    runId: input.runId,
    startDate: input.startDate,
    endDate: input.endDate,
    featureGroup: input.featureGroup,
    ...(input.sparkApplication !== undefined ? { sparkApplication: input.sparkApplication } : {}),
  };
}
