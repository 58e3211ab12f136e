/**
 * The Spark job on EMR Serverless. A run is submitted with a client token derived from the run
 * name, so a submit retried after a lost response or a crashed worker finds the run already started
 * instead of starting a second one; a run started by an earlier attempt is followed, not restarted.
 */
import {
  CancelJobRunCommand,
  EMRServerlessClient,
  GetJobRunCommand,
  StartJobRunCommand,
  type JobRun,
  type StartJobRunCommandInput,
} from '@aws-sdk/client-emr-serverless';
import type { S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import type { BackfillRequest } from '../../common/input';
import type { CancelWait, JobHandle, JobStatus, SparkJobSpec, SparkRunner } from '../backends';
import { hasEnded } from '../spark/follow-job';
import { awsErrorName, classifyAwsError } from './errors';
import { connectorJarUri, DEFAULT_CODE_PREFIX, jobCodeUris, latestJobCodeKey } from './job-code';
import { FAILURE } from '../../common/failures';
import { enforceWorkerRules } from '../worker-rules';
import { findActiveRun, ledgerRunIdOf, listActiveRuns, RUN_ID_TAG, type ActiveRunsOf } from './emr-runs';

const EMR_BACKEND = 'emr-serverless';

/** A JobHandle with what it takes to find the run again (kept in heartbeat details as JSON). */
export interface EmrJobHandle extends JobHandle {
  applicationId: string;
}

export interface EmrRunnerOptions {
  /** S3 prefix for driver and executor logs (EMR's S3 monitoring configuration); optional. */
  logUri?: string;
  /**
   * Where `backfill deploy-job` puts the job code in the code bucket; `<codePrefix>/LATEST` names
   * the latest deployed version, used for a request without a jobCodeKey.
   * @default 'jobs/card-features'
   */
  codePrefix?: string;
  /** Runs cut off by EMR after this long; a backfill chunk that takes longer is stuck. */
  executionTimeoutMinutes?: number;
  /**
   * How long cancel() waits, after CancelJobRun, for the run to leave CANCELLING.
   * @default 600000 (10 minutes: EMR stops a run within a minute or two; longer means something is stuck)
   */
  cancelWaitMs?: number;
  /**
   * How often cancel() asks for the run's state while it stops.
   * @default 5000
   */
  cancelPollMs?: number;
}

/** How often a running job is polled: a Spark chunk runs for minutes to hours; a GetJobRun every 15 s is cheap and adds little delay. */
export const DEFAULT_EMR_POLL_MS = 15_000;
const DEFAULT_CANCEL_WAIT_MS = 10 * 60_000;
const DEFAULT_CANCEL_POLL_MS = 5000;

export function sparkSubmitParameters(pyFilesUri: string, conf: Record<string, string>, jars: string[] = []): string {
  const confArgs = Object.entries(conf).map(([k, v]) => `--conf ${k}=${v}`);
  return [`--py-files ${pyFilesUri}`, ...(jars.length ? [`--jars ${jars.join(',')}`] : []), ...confArgs].join(' ');
}

/** A job that publishes through the Feature Store connector (`--offline-store sagemaker:...`) needs its jar. */
export function connectorJars(args: string[], codeBucket: string, jobCodeKey: string): string[] {
  const store = args[args.indexOf('--offline-store') + 1];
  return args.includes('--offline-store') && store?.startsWith('sagemaker:')
    ? [connectorJarUri(codeBucket, jobCodeKey)]
    : [];
}

/**
 * EMR's idempotency token: 1-64 characters of [A-Za-z0-9._-]. A hash of the run name (plus the
 * generation: a new generation is used only after the run of the previous one failed).
 */
export function clientToken(runName: string, generation = 0): string {
  const digest = createHash('sha256').update(`${runName}\n${generation}`).digest('hex').slice(0, 48);
  return `bf-${generation}-${digest}`;
}

/** EMR run names: at most 256 characters; keep them readable in the console. */
function jobRunName(runName: string): string {
  return runName.replace(/[^A-Za-z0-9._\-/=]+/g, '_').slice(0, 256);
}

/** StartJobRun's input, all but the client token (one per generation). */
type StartInput = Omit<StartJobRunCommandInput, 'clientToken'> & { applicationId: string; name: string };

/** Runs of one run name that failed before a new one is tried: well above the activity's retries. */
const MAX_GENERATIONS = 20;

export class EmrServerlessRunner implements SparkRunner {
  /** An EMR run goes on when the worker stops; the next attempt follows it. */
  readonly runsOutliveWorker = true;

  /** `s3` reads `<codePrefix>/LATEST` for a request without a jobCodeKey. */
  constructor(
    private readonly client: EMRServerlessClient,
    private readonly options: EmrRunnerOptions = {},
    private readonly s3?: S3Client,
  ) {}

  async submit(spec: SparkJobSpec): Promise<EmrJobHandle> {
    const { request } = spec;
    if (!request.emr)
      throw ApplicationFailure.nonRetryable('emr.appId: required for the AWS backend', FAILURE.invalidInput);
    if (!request.codeBucket)
      throw ApplicationFailure.nonRetryable('codeBucket: required for the AWS backend', FAILURE.invalidInput);
    const start = await this.startInput(spec, request.codeBucket);
    // The worker's rules whatever the activity was handed (job role, sparkConf, prefixes).
    enforceWorkerRules(request);
    // A run of this chunk and backfill run still going (started by an earlier chunk workflow run): follow it.
    const runId = ledgerRunIdOf(spec.args);
    const going = runId
      ? await findActiveRun(this.client, { applicationId: start.applicationId, name: start.name, runId })
      : undefined;
    if (going) {
      const run = await this.getJobRun(start.applicationId, going);
      return { backend: EMR_BACKEND, id: going, applicationId: start.applicationId, logLocation: logLocation(run) };
    }
    return this.startNewRun(spec, start);
  }

  /**
   * StartJobRun's input but the client token: the job code, the Spark settings as handed over (the
   * Spark step sized them from the chunk's bronze bytes, spark/sizing.ts), the chunk's tags.
   */
  private async startInput(spec: SparkJobSpec, codeBucket: string): Promise<StartInput> {
    const { request, chunk } = spec;
    const jobCodeKey = await this.jobCodeKey(request, codeBucket);
    const code = jobCodeUris(codeBucket, jobCodeKey);
    const jars = connectorJars(spec.args, codeBucket, jobCodeKey);
    const runId = ledgerRunIdOf(spec.args);
    return {
      applicationId: request.emr!.appId,
      executionRoleArn: request.emr!.jobRole,
      name: jobRunName(spec.runName),
      jobDriver: {
        sparkSubmit: {
          entryPoint: code.entryPoint,
          entryPointArguments: spec.args,
          sparkSubmitParameters: sparkSubmitParameters(code.pyFiles, request.sparkConf, jars),
        },
      },
      configurationOverrides: this.options.logUri
        ? { monitoringConfiguration: { s3MonitoringConfiguration: { logUri: this.options.logUri } } }
        : undefined,
      executionTimeoutMinutes: this.options.executionTimeoutMinutes,
      tags: {
        'backfill:chunk': chunk.id,
        'backfill:feature-version': request.featureVersion,
        ...(runId ? { [RUN_ID_TAG]: runId } : {}),
      },
    };
  }

  /**
   * Generation 0 is the normal case. A token whose run already failed (or was cancelled) cannot
   * start a new run, so a retry after a failure moves on to the next generation's token.
   */
  private async startNewRun(spec: SparkJobSpec, start: StartInput): Promise<EmrJobHandle> {
    const { applicationId } = start;
    const scope = tokenScope(spec.runName);
    for (let generation = 0; generation < MAX_GENERATIONS; generation++) {
      const what = `EMR StartJobRun on application ${applicationId} for chunk ${spec.chunk.id}`;
      let jobRunId: string;
      try {
        const out = await this.client.send(
          new StartJobRunCommand({ ...start, clientToken: clientToken(scope, generation) }),
        );
        if (!out.jobRunId) throw new Error(`${what} returned no jobRunId`);
        jobRunId = out.jobRunId;
      } catch (err) {
        throw classifyAwsError(err, what);
      }
      const run = await this.getJobRun(applicationId, jobRunId);
      if (run.state === 'FAILED' || run.state === 'CANCELLED') continue;
      return { backend: EMR_BACKEND, id: jobRunId, applicationId, logLocation: logLocation(run) };
    }
    throw ApplicationFailure.nonRetryable(
      `chunk ${spec.chunk.id}: ${MAX_GENERATIONS} EMR runs named ${spec.runName} already failed; start a new backfill after fixing the cause`,
      FAILURE.sparkJobFailed,
    );
  }

  async reattach(previous: JobHandle, spec?: SparkJobSpec): Promise<EmrJobHandle | undefined> {
    const handle = previous as Partial<EmrJobHandle>;
    if (previous.backend !== EMR_BACKEND || !handle.applicationId) return undefined;
    if (spec && spec.request.emr && handle.applicationId !== spec.request.emr.appId) return undefined;
    let run: JobRun;
    try {
      run = await this.getJobRun(handle.applicationId, previous.id);
    } catch (err) {
      // Gone from EMR (or another application): nothing of it can still write.
      if (err instanceof ApplicationFailure && err.type === FAILURE.invalidInput) return undefined;
      throw err;
    }
    // A failed or cancelled run can no longer write; the caller submits the next one.
    if (run.state === 'FAILED' || run.state === 'CANCELLED') return undefined;
    // Not this chunk's run (forged details): leave it alone; submit finds this chunk's own run by its name.
    if (spec && run.name !== jobRunName(spec.runName)) return undefined;
    return {
      backend: EMR_BACKEND,
      id: previous.id,
      applicationId: handle.applicationId,
      logLocation: logLocation(run) ?? previous.logLocation,
    };
  }

  async status(handle: JobHandle): Promise<JobStatus> {
    const run = await this.getJobRun(applicationIdOf(handle), handle.id);
    return jobStatus(run, handle.id);
  }

  /** CancelJobRun, then GetJobRun until the run has ended (CANCELLING can still write), within cancelWaitMs. */
  async cancel(handle: JobHandle, wait: CancelWait = {}): Promise<JobStatus> {
    const applicationId = applicationIdOf(handle);
    try {
      await this.client.send(new CancelJobRunCommand({ applicationId, jobRunId: handle.id }));
    } catch (err) {
      if (awsErrorName(err) === 'ResourceNotFoundException') {
        return {
          state: 'cancelled',
          detail: `EMR job run ${handle.id} does not exist on application ${applicationId}: nothing of it runs`,
        };
      }
      // ValidationException: the run has already ended; the polling below says how.
      if (awsErrorName(err) !== 'ValidationException')
        throw classifyAwsError(err, `EMR CancelJobRun ${handle.id} on application ${applicationId}`);
    }
    const waitMs = this.options.cancelWaitMs ?? DEFAULT_CANCEL_WAIT_MS;
    const deadline = Date.now() + waitMs;
    let last: JobStatus = { state: 'running', detail: 'CANCELLING: no state read yet' };
    for (;;) {
      try {
        last = await this.status(handle);
        wait.onPoll?.(last);
        if (hasEnded(last.state)) return last;
      } catch (err) {
        // A throttled or failed GetJobRun does not end the wait; the bound does.
        last = { state: 'running', detail: `GetJobRun failed while cancelling: ${(err as Error).message}` };
      }
      if (Date.now() >= deadline) {
        return {
          state: 'running',
          detail: `EMR job run ${handle.id} had not stopped ${waitMs / 1000} s after CancelJobRun (${last.detail}); it may still write: check it in the EMR console`,
        };
      }
      // A plain timer: the activity's own sleep rejects once it is cancelled, which it is here.
      await new Promise((r) => setTimeout(r, this.options.cancelPollMs ?? DEFAULT_CANCEL_POLL_MS));
    }
  }

  /** The holder's runs not yet ended (emr-runs.ts), found by the name submit gives them. */
  activeRuns: ActiveRunsOf = (query) => {
    return listActiveRuns(this.client, { ...query, namePrefix: jobRunName(`${query.holder}/`) });
  };

  /** The request's job code key, else the latest deployed one (the workflow's preflight normally fixed it). */
  private async jobCodeKey(request: BackfillRequest, codeBucket: string): Promise<string> {
    if (request.jobCodeKey) return request.jobCodeKey;
    const prefix = this.options.codePrefix ?? DEFAULT_CODE_PREFIX;
    const latest = this.s3 ? await latestJobCodeKey(this.s3, codeBucket, prefix) : undefined;
    if (!latest) {
      throw ApplicationFailure.nonRetryable(
        `codeBucket: no job code key given and none deployed at s3://${codeBucket}/${prefix}/LATEST; run \`npx backfill deploy-job --code-bucket ${codeBucket}\``,
        FAILURE.invalidInput,
      );
    }
    return latest;
  }

  private async getJobRun(applicationId: string, jobRunId: string): Promise<JobRun> {
    try {
      const out = await this.client.send(new GetJobRunCommand({ applicationId, jobRunId }));
      if (!out.jobRun) throw new Error(`EMR GetJobRun ${jobRunId} returned no jobRun`);
      return out.jobRun;
    } catch (err) {
      throw classifyAwsError(err, `EMR GetJobRun ${jobRunId} on application ${applicationId}`);
    }
  }
}

/** Every EMR Serverless job run state, mapped onto the runner's states. */
export function jobStatus(run: JobRun, jobRunId: string): JobStatus {
  const state = run.state ?? 'UNKNOWN';
  switch (state) {
    case 'SUBMITTED':
    case 'PENDING':
    case 'SCHEDULED':
    case 'QUEUED':
      return { state: 'pending', detail: state };
    case 'RUNNING':
      return { state: 'running', detail: state };
    // Still able to write until it is CANCELLED: keep following it.
    case 'CANCELLING':
      return { state: 'running', detail: `CANCELLING: ${run.stateDetails ?? 'cancel requested'}` };
    case 'SUCCESS':
      return { state: 'succeeded', detail: state };
    case 'FAILED': {
      const logs = logLocation(run);
      return {
        state: 'failed',
        detail: `EMR job run ${jobRunId} FAILED: ${run.stateDetails || 'no state details'}${logs ? ` (logs: ${logs})` : ''}`,
      };
    }
    case 'CANCELLED':
      return {
        state: 'cancelled',
        detail: `EMR job run ${jobRunId} CANCELLED: ${run.stateDetails || 'no state details'}`,
      };
    default:
      // A state this code does not know: never take it for success; keep polling and say so.
      return { state: 'running', detail: `unknown EMR job run state ${state}` };
  }
}

/** Where the run's driver logs are: the S3 log URI when the run has one, else how to get to them. */
export function logLocation(run: JobRun): string | undefined {
  const monitoring = run.configurationOverrides?.monitoringConfiguration;
  const s3 = monitoring?.s3MonitoringConfiguration?.logUri;
  if (s3) return `${s3.replace(/\/+$/, '')}/applications/${run.applicationId}/jobs/${run.jobRunId}/`;
  const cw = monitoring?.cloudWatchLoggingConfiguration;
  if (cw?.enabled) return `cloudwatch:${cw.logGroupName ?? '/aws/emr-serverless'}`;
  if (run.applicationId && run.jobRunId) {
    return `aws emr-serverless get-dashboard-for-job-run --application-id ${run.applicationId} --job-run-id ${run.jobRunId}`;
  }
  return undefined;
}

function applicationIdOf(handle: JobHandle): string {
  const applicationId = (handle as Partial<EmrJobHandle>).applicationId;
  if (!applicationId)
    throw new Error(`job handle ${JSON.stringify(handle)} is not an EMR Serverless handle (no applicationId)`);
  return applicationId;
}

/**
 * What the client token is derived from: the run name and, inside an activity, the workflow run
 * id. Activity retries share the run id (so they find the same EMR run), while a later backfill
 * reusing a workflow id gets a new run instead of the old one's result.
 */
function tokenScope(runName: string): string {
  let runId: string | undefined;
  try {
    runId = Context.current().info.workflowExecution?.runId;
  } catch {
    runId = undefined; // not inside an activity (tests, scripts)
  }
  return runId ? `${runName}@${runId}` : runName;
}
