/**
 * Lease activities: ask the (feature group, version) lease workflow for a backfill's days, and
 * give them back. They need a Temporal client, injected by the worker (built on its connection).
 */
import { Context } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  acquireLeaseUpdate,
  conflictsOf,
  leaseHoldersQuery,
  leaseWorkflowId,
  releaseLeaseUpdate,
  type AcquireRequest,
  type BackfillLeaseWorkflow,
  type LeaseAnswer,
  type LeaseConflict,
} from '../common/lease';

export interface LeaseActivityOptions {
  client: Client;
  /**
   * How often a waiting acquire looks again (one query and a describe per holder in the way).
   * @default 5000
   */
  pollIntervalMs?: number;
  /**
   * How long one waiting acquire waits before returning the conflict; the workflow asks again,
   * so the activity's timeout stays bounded however long the other backfill runs.
   * @default 600000 (10 minutes)
   */
  waitSliceMs?: number;
}

export interface AcquireLeaseInput {
  /** The backfill's workflow id and first execution run id. */
  holder: string;
  runId: string;
  featureGroup: string;
  featureVersion: string;
  startDate: string;
  endDate: string;
  /** Wait (heartbeating) up to one slice for the days to be free, instead of answering at once. */
  wait: boolean;
}

export interface ReleaseLeaseInput {
  holder: string;
  runId: string;
  featureGroup: string;
  featureVersion: string;
}

export function createLeaseActivities(options: LeaseActivityOptions) {
  const { client } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 5000;
  const waitSliceMs = options.waitSliceMs ?? 600_000;

  /** Update-with-start: the lease workflow is started by whichever backfill asks first. */
  const ask = (input: AcquireLeaseInput, request: AcquireRequest): Promise<LeaseAnswer> =>
    client.workflow.executeUpdateWithStart(acquireLeaseUpdate, {
      args: [request],
      startWorkflowOperation: new WithStartWorkflowOperation<BackfillLeaseWorkflow>('backfillLeaseWorkflow', {
        args: [{ featureGroup: input.featureGroup, featureVersion: input.featureVersion }],
        workflowId: leaseWorkflowId(input.featureGroup, input.featureVersion),
        // The lease runs beside the backfills of this worker's task queue.
        taskQueue: Context.current().info.taskQueue,
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });

  /** Releases the holds of backfills that no longer run (terminated, timed out, failed without releasing). */
  const releaseStale = async (input: AcquireLeaseInput, conflicts: LeaseConflict[]): Promise<boolean> => {
    let released = false;
    for (const c of conflicts) {
      if (await isRunning(client, c.holder)) continue;
      Context.current().log.warn('releasing the overlap lease of a backfill that no longer runs', {
        holder: c.holder,
        runId: c.runId,
      });
      await release(client, { ...input, holder: c.holder, runId: c.runId });
      released = true;
    }
    return released;
  };

  return {
    /** Asks for the days; on a conflict, frees stale holds, and with `wait` waits up to one slice. */
    async acquireLease(input: AcquireLeaseInput): Promise<LeaseAnswer> {
      const ctx = Context.current();
      const request: AcquireRequest = {
        holder: input.holder,
        runId: input.runId,
        startDate: input.startDate,
        endDate: input.endDate,
      };
      const lease = client.workflow.getHandle(leaseWorkflowId(input.featureGroup, input.featureVersion));
      const deadline = Date.now() + waitSliceMs;
      let answer = await ask(input, request);
      while (!answer.granted) {
        if (await releaseStale(input, answer.conflicts)) {
          answer = await ask(input, request);
          continue;
        }
        if (!input.wait || Date.now() >= deadline) return answer;
        ctx.heartbeat({ waitingFor: answer.conflicts });
        await ctx.sleep(pollIntervalMs); // rejects when the activity is cancelled
        // Looking is a query (no history events); only a free-looking lease is asked again.
        const holders = await lease.query(leaseHoldersQuery).catch(() => []);
        const conflicts = conflictsOf(holders, request);
        answer = conflicts.length > 0 ? { granted: false, conflicts } : await ask(input, request);
      }
      return answer;
    },

    /** Gives the days back; nothing to do when the lease workflow is gone. */
    async releaseLease(input: ReleaseLeaseInput): Promise<boolean> {
      return release(client, input);
    },
  };
}

export type LeaseActivities = ReturnType<typeof createLeaseActivities>;

async function release(client: Client, input: ReleaseLeaseInput): Promise<boolean> {
  const lease = client.workflow.getHandle(leaseWorkflowId(input.featureGroup, input.featureVersion));
  try {
    return await lease.executeUpdate(releaseLeaseUpdate, { args: [{ holder: input.holder, runId: input.runId }] });
  } catch (err) {
    // It ends only with no holder, so a missing lease workflow holds nothing of ours.
    if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError')
      return false;
    throw err;
  }
}

async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError')
      return false;
    throw err;
  }
}
