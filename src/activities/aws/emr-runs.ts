/**
 * The EMR Serverless runs a backfill still has going, for the overlap lease: a backfill whose
 * workflow was terminated leaves its job runs going (nothing cancels them), and they write until
 * they end. Found with ListJobRuns by state and by the run name the runner gives (emr.ts: the
 * chunk workflow id, `<backfill workflow id>/chunk-<chunk id>`).
 */
import { ListJobRunsCommand, type EMRServerlessClient, type JobRunState } from '@aws-sdk/client-emr-serverless';
import type { ActiveRun, ActiveRunQuery, SparkRunner } from '../backends';
import { awsErrorName, classifyAwsError } from './errors';

/**
 * Every state in which a run may still write. CANCELLING too: a run being cancelled writes until it
 * is CANCELLED (emr.ts follows it that long as well).
 */
export const UNENDED_JOB_RUN_STATES: JobRunState[] = [
  'SUBMITTED',
  'PENDING',
  'SCHEDULED',
  'QUEUED',
  'RUNNING',
  'CANCELLING',
];

export type ActiveRunsOf = SparkRunner['activeRuns'];

export interface ListActiveRunsOptions extends ActiveRunQuery {
  /** The holder's run names start with this (the runner's own sanitising of `<holder>/`). */
  namePrefix: string;
}

/** Lists the application's unended runs, page by page, and keeps the holder's. */
export async function listActiveRuns(
  client: EMRServerlessClient,
  options: ListActiveRunsOptions,
): Promise<ActiveRun[]> {
  const applicationId = options.application;
  if (!applicationId) {
    // Cannot look, so cannot say none: the lease keeps the hold and says why.
    return [{ id: 'unknown', description: `EMR runs of ${options.holder} (no EMR application known to look in)` }];
  }
  const found: ActiveRun[] = [];
  let nextToken: string | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new ListJobRunsCommand({ applicationId, states: UNENDED_JOB_RUN_STATES, nextToken, maxResults: 50 }),
      );
    } catch (err) {
      // An application that is gone runs nothing.
      if (awsErrorName(err) === 'ResourceNotFoundException') return [];
      throw classifyAwsError(err, `EMR ListJobRuns on application ${applicationId}`);
    }
    for (const run of page.jobRuns ?? []) {
      if (!run.id || !run.name?.startsWith(options.namePrefix)) continue;
      found.push({ id: run.id, description: `EMR job run ${run.id} ${run.name} (${run.state})` });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return found;
}
