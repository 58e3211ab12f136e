/**
 * Finding a chunk's EMR run that is still going, by its name and the ledger run id it writes: a
 * later attempt or a retry-failed (a new chunk workflow run, so a new client token) follows it
 * instead of starting a second job writing the same run=R directories (issue 20 item 6).
 */
import { GetJobRunCommand, ListJobRunsCommand, type EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { classifyAwsError } from './errors';

/** The tag naming the backfill run (ledger id) whose gold a job run writes. */
export const RUN_ID_TAG = 'backfill:run-id';

/** EMR states of a run that can still write. */
const ACTIVE_STATES = ['SUBMITTED', 'PENDING', 'SCHEDULED', 'RUNNING', 'QUEUED', 'CANCELLING'] as const;

/** The ledger run id a job's arguments name (--run-id), if any. */
export function ledgerRunIdOf(args: readonly string[]): string | undefined {
  const i = args.indexOf('--run-id');
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * The id of a run of `name` on the application that has not ended and writes for `runId`, or
 * undefined. Pages through ListJobRuns (active states only), then reads each candidate's tags.
 */
export async function findActiveRun(
  client: EMRServerlessClient,
  { applicationId, name, runId }: { applicationId: string; name: string; runId: string },
): Promise<string | undefined> {
  const what = `EMR ListJobRuns on application ${applicationId}`;
  let nextToken: string | undefined;
  do {
    let page;
    try {
      page = await client.send(new ListJobRunsCommand({ applicationId, states: [...ACTIVE_STATES], nextToken }));
    } catch (err) {
      throw classifyAwsError(err, what);
    }
    for (const run of page.jobRuns ?? []) {
      if (run.name !== name || !run.id || !ACTIVE_STATES.includes(run.state as (typeof ACTIVE_STATES)[number]))
        continue;
      let tags: Record<string, string> | undefined;
      try {
        tags = (await client.send(new GetJobRunCommand({ applicationId, jobRunId: run.id }))).jobRun?.tags;
      } catch (err) {
        throw classifyAwsError(err, `EMR GetJobRun ${run.id} on application ${applicationId}`);
      }
      if (tags?.[RUN_ID_TAG] === runId) return run.id;
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return undefined;
}
