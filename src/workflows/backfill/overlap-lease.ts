/**
 * The backfill's overlap lease on its days (issue 10): taken before the first chunk, carried over
 * continue-as-new, given back at every other end. The lease workflow keeps the holders (../lease.ts).
 */
import { ApplicationFailure, CancellationScope, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { LeaseActivities } from '../../activities/ledger';
import type { BackfillRequest } from '../../common/input';
import { rootMessage } from '../../common/errors';
import { FAILURE } from '../../common/failures';
import { describeConflicts, formatDays, type LeaseConflict } from '../../common/lease';
import { backfillPriority } from '../priority';
import { activitySummary } from '../ui';

const lease = proxyActivities<LeaseActivities>({
  // One waiting acquire waits at most a slice (10 minutes by default), then the workflow asks again.
  startToCloseTimeout: '20 minutes',
  // A waiting acquire heartbeats at every look: a lost worker shows within a minute.
  heartbeatTimeout: '1 minute',
  // Acquire and release are idempotent per holder: retry through server and worker hiccups.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

/**
 * Takes the overlap lease on the request's days. Refused (non-retryable, naming the backfills in
 * the way and the shared days) unless the request asks to wait; then waits, calling onWait.
 */
export async function takeLease(request: BackfillRequest, onWait: (conflicts: LeaseConflict[]) => void): Promise<void> {
  const { workflowId, firstExecutionRunId } = workflowInfo();
  // No explicit priority here (it inherits the workflow's): on the time-skipping test server a cancel
  // of a waiting ask with a priority failed its workflow task (ACTIVITY_UNKNOWN), test/workflow.test.ts.
  const ask = (wait: boolean) =>
    lease.acquireLease.executeWithOptions({ summary: activitySummary.lease(wait ? 'wait for' : 'take', request) }, [
      {
        holder: workflowId,
        runId: firstExecutionRunId,
        featureGroup: request.featureGroup,
        featureVersion: request.featureVersion,
        startDate: request.startDate,
        endDate: request.endDate,
        wait,
        // The lease covers (lake, version), what writers share (src/activities/ledger/lease-key.ts).
        lake: request.bucket,
        sparkApplication: request.emr?.appId,
      },
    ]);
  let answer = await ask(false);
  while (!answer.granted) {
    if (!request.waitForOverlap) {
      const days = answer.conflicts.map((c) => formatDays(c.shared)).join(', ');
      throw ApplicationFailure.nonRetryable(
        `days ${days} of ${request.featureGroup} ${request.featureVersion} are being backfilled by ${describeConflicts(answer.conflicts)}: ` +
          `wait for it to finish or cancel it, or start this backfill with --wait-for-overlap (waitForOverlap: true) to queue behind it`,
        FAILURE.backfillOverlap,
        { conflicts: answer.conflicts },
      );
    }
    onWait(answer.conflicts);
    answer = await ask(true);
  }
}

/** Gives the lease back, even when cancelled; a failure only leaves a stale hold, which the next acquire clears. */
export async function releaseLease(request: BackfillRequest): Promise<void> {
  const { workflowId, firstExecutionRunId } = workflowInfo();
  try {
    await CancellationScope.nonCancellable(() =>
      lease.releaseLease.executeWithOptions(
        { summary: activitySummary.lease('release', request), priority: backfillPriority(request) },
        [
          {
            holder: workflowId,
            runId: firstExecutionRunId,
            featureGroup: request.featureGroup,
            featureVersion: request.featureVersion,
            lake: request.bucket,
          },
        ],
      ),
    );
  } catch (err) {
    log.warn('could not release the overlap lease; the next backfill that needs these days frees it', {
      error: rootMessage(err),
    });
  }
}
