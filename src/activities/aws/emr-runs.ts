/**
 * EMR Serverless runs that have not ended, found with ListJobRuns by state. Two readers:
 * - the overlap lease: a backfill whose workflow was terminated leaves its job runs going (nothing
 *   cancels them), and they write until they end; found by the run name the runner gives
 *   (emr.ts: the chunk workflow id, `<backfill workflow id>/chunk-<chunk id>`);
 * - submit: a later attempt or a retry-failed (a new chunk workflow run, so a new client token)
 *   follows a run of the same chunk and ledger run still going instead of starting a second job
 *   writing the same run=R directories (issue 20 item 6).
 */
import {
  GetJobRunCommand,
  ListJobRunsCommand,
  type EMRServerlessClient,
  type JobRunState,
  type JobRunSummary,
} from '@aws-sdk/client-emr-serverless';
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

/** The tag naming the backfill run (ledger id) whose gold a job run writes. */
export const RUN_ID_TAG = 'backfill:run-id';

export type ActiveRunsOf = SparkRunner['activeRuns'];

export interface ListActiveRunsOptions extends ActiveRunQuery {
  /** The holder's run names start with this (the runner's own sanitising of `<holder>/`). */
  namePrefix: string;
}

/** The application's runs that have not ended, page by page; none when the application is gone. */
async function* unendedJobRuns(client: EMRServerlessClient, applicationId: string): AsyncGenerator<JobRunSummary> {
  let nextToken: string | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new ListJobRunsCommand({ applicationId, states: UNENDED_JOB_RUN_STATES, nextToken, maxResults: 50 }),
      );
    } catch (err) {
      // An application that is gone runs nothing.
      if (awsErrorName(err) === 'ResourceNotFoundException') return;
      throw classifyAwsError(err, `EMR ListJobRuns on application ${applicationId}`);
    }
    for (const run of page.jobRuns ?? []) if (run.id) yield run;
    nextToken = page.nextToken;
  } while (nextToken);
}

/** The holder's unended runs, for the lease's takeover check. */
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
  for await (const run of unendedJobRuns(client, applicationId)) {
    if (!run.name?.startsWith(options.namePrefix)) continue;
    found.push({ id: run.id!, description: `EMR job run ${run.id} ${run.name} (${run.state})` });
  }
  return found;
}

/** The ledger run id a job's arguments name (--run-id), if any. */
export function ledgerRunIdOf(args: readonly string[]): string | undefined {
  const i = args.indexOf('--run-id');
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * The id of an unended run of `name` on the application that writes for `runId` (its RUN_ID_TAG),
 * or undefined. ListJobRuns gives no tags, so each candidate of that name is read with GetJobRun.
 */
export async function findActiveRun(
  client: EMRServerlessClient,
  { applicationId, name, runId }: { applicationId: string; name: string; runId: string },
): Promise<string | undefined> {
  for await (const run of unendedJobRuns(client, applicationId)) {
    if (run.name !== name) continue;
    let tags: Record<string, string> | undefined;
    try {
      tags = (await client.send(new GetJobRunCommand({ applicationId, jobRunId: run.id }))).jobRun?.tags;
    } catch (err) {
      throw classifyAwsError(err, `EMR GetJobRun ${run.id} on application ${applicationId}`);
    }
    if (tags?.[RUN_ID_TAG] === runId) return run.id;
  }
  return undefined;
}
