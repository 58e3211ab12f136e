/**
 * The overlap lease as the lease activities (index.ts) use it: ask the (lake, feature version)
 * lease workflow for a backfill's days, and give them back (lease-key.ts says which lease, and what
 * happens to (group, version) leases of older backfills).
 */
import { Context } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  acquireLeaseUpdate,
  conflictsOf,
  leaseHoldersQuery,
  releaseLeaseUpdate,
  type AcquireRequest,
  type BackfillLeaseWorkflow,
  type LeaseAnswer,
  type LeaseConflict,
  type LeaseHolder,
} from '../../common/lease';
import type { SparkRunner } from '../backends';
import { leaseKeyOf, legacyLeaseKey, type LeaseKey } from './lease-key';

export interface LeaseActivityOptions {
  client: Client;
  /**
   * The worker's Spark runner: a holder whose workflow has ended keeps its days while runs it
   * started still go (a terminated backfill's EMR run writes on).
   */
  spark: Pick<SparkRunner, 'activeRuns'>;
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
  /**
   * The request's bucket: the lease covers (lake, version). Unset in acquires recorded before the
   * lease was per lake: they ask the (group, version) lease.
   */
  lake?: string;
  /** Where the backfill's Spark runs go (EMR: application id), kept in its hold for a takeover's check. */
  sparkApplication?: string;
}

export interface ReleaseLeaseInput {
  holder: string;
  runId: string;
  featureGroup: string;
  featureVersion: string;
  /** As in AcquireLeaseInput; unset in releases recorded before the lease was per lake. */
  lake?: string;
}

/** An answer, and the lease its conflicts are in. */
export interface Look {
  answer: LeaseAnswer;
  lease: LeaseKey;
}

/**
 * The lease workflows as the activities use them: asked with update-with-start, queried, and
 * freed of holds whose backfill no longer runs.
 */
export class LeaseDesk {
  constructor(
    private readonly client: Client,
    private readonly spark: Pick<SparkRunner, 'activeRuns'>,
  ) {}

  /** Update-with-start: the lease workflow is started by whichever backfill asks first. */
  async ask(lease: LeaseKey, request: AcquireRequest): Promise<Look> {
    const { lake, featureGroup, featureVersion } = lease;
    const answer = await this.client.workflow.executeUpdateWithStart(acquireLeaseUpdate, {
      args: [request],
      startWorkflowOperation: new WithStartWorkflowOperation<BackfillLeaseWorkflow>('backfillLeaseWorkflow', {
        args: [lake !== undefined ? { lake, featureVersion } : { featureGroup, featureVersion }],
        workflowId: lease.workflowId,
        // The lease runs beside the backfills of this worker's task queue.
        taskQueue: Context.current().info.taskQueue,
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    return { answer, lease };
  }

  /**
   * The (group, version) lease of older backfills of the group first (asked, never started),
   * then this one's: asked, or with `queryFirst` only queried while its days look taken.
   */
  async look(input: AcquireLeaseInput, request: AcquireRequest, queryFirst: boolean): Promise<Look> {
    const lease = leaseKeyOf(input);
    if (lease.lake !== undefined) {
      const legacy = legacyLeaseKey(input);
      const conflicts = conflictsOf(await runningLeaseHolders(this.client, legacy), request);
      if (conflicts.length > 0) return { answer: { granted: false, conflicts }, lease: legacy };
    }
    if (queryFirst) {
      // Looking is a query (no history events); only a free-looking lease is asked again.
      const holders = await this.client.workflow
        .getHandle(lease.workflowId)
        .query(leaseHoldersQuery)
        .catch(() => []);
      const conflicts = conflictsOf(holders, request);
      if (conflicts.length > 0) return { answer: { granted: false, conflicts }, lease };
    }
    return this.ask(lease, request);
  }

  /**
   * Releases the holds of backfills that no longer run (terminated, timed out, failed without
   * releasing) and left no Spark run going; a hold with runs left is kept, the conflict naming them.
   */
  async releaseStale(input: AcquireLeaseInput, { answer, lease }: Look): Promise<boolean> {
    let released = false;
    for (const c of answer.conflicts) {
      if (await isRunning(this.client, c.holder)) continue;
      if (await this.leftRunning(c, input)) continue;
      Context.current().log.warn('releasing the overlap lease of a backfill that no longer runs', {
        holder: c.holder,
        runId: c.runId,
      });
      await this.release(lease, { holder: c.holder, runId: c.runId });
      released = true;
    }
    return released;
  }

  /** Gives a hold back; false when the lease workflow is gone (it ends only with no holder). */
  async release(lease: LeaseKey, hold: { holder: string; runId: string }): Promise<boolean> {
    try {
      return await this.client.workflow.getHandle(lease.workflowId).executeUpdate(releaseLeaseUpdate, { args: [hold] });
    } catch (err) {
      // It ends only with no holder, so a missing lease workflow holds nothing of ours.
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Whether the ended holder's Spark runs go on; if so the conflict names them. */
  private async leftRunning(c: LeaseConflict, input: AcquireLeaseInput): Promise<boolean> {
    // A hold from before the application was recorded: most likely the asker's (same lake and version).
    const runs = await this.spark.activeRuns({
      holder: c.holder,
      application: c.sparkApplication ?? input.sparkApplication,
    });
    if (runs.length === 0) return false;
    c.runningJobs = runs.map((r) => r.description);
    Context.current().log.warn('keeping the overlap lease of an ended backfill: its Spark runs go on', {
      holder: c.holder,
      runs: c.runningJobs,
    });
    return true;
  }
}

/** The holders of a lease workflow that runs; none when it has ended or never was (no replay of a closed one). */
async function runningLeaseHolders(client: Client, lease: LeaseKey): Promise<LeaseHolder[]> {
  const handle = client.workflow.getHandle(lease.workflowId);
  try {
    if ((await handle.describe()).status.name !== 'RUNNING') return [];
    return await handle.query(leaseHoldersQuery);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (err as { name?: string }).name === 'WorkflowNotFoundError';
}
