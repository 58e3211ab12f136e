/**
 * A wire-level double of the EMR Serverless job run API, for what moto does not model: moto's
 * job runs are SUCCESS at once, ignore the client token (every StartJobRun makes a new run) and
 * cannot fail, and EMR Serverless has no moto state-manager model. Here each run walks through a
 * scripted list of states, one step per GetJobRun, and a repeated client token returns the same run.
 */
import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { awsError, ok, serve, type HttpDouble, type Reply } from './http-double';
import { FAKE_CREDENTIALS, REGION } from './moto';

export interface DoubleJobRun {
  applicationId: string;
  jobRunId: string;
  clientToken: string;
  name?: string;
  executionRoleArn: string;
  jobDriver: unknown;
  configurationOverrides?: unknown;
  tags?: Record<string, string>;
  states: string[];
  step: number;
  stateDetails?: string;
  cancelled: boolean;
}

export const HAPPY_PATH = ['SUBMITTED', 'PENDING', 'SCHEDULED', 'RUNNING', 'SUCCESS'];

export class EmrDouble {
  readonly runs: DoubleJobRun[] = [];
  readonly applications = new Map<string, { state: string; type: string }>();
  /** States of the next started runs, taken in order; HAPPY_PATH when empty. */
  readonly scripts: { states: string[]; stateDetails?: string }[] = [];
  /** Errors answered to the next requests, in order, before anything else is done. */
  readonly faults: Reply[] = [];
  /** Every request, in order: the API name, and for GetJobRun the state answered ("GetJobRun RUNNING"). */
  readonly calls: string[] = [];
  /** GetJobRun answers a cancelled run gives CANCELLING before CANCELLED (EMR takes a while). */
  cancellingSteps = 1;
  private server?: HttpDouble;

  get endpoint(): string {
    return this.server!.endpoint;
  }

  /** A real SDK client of the double, one try per call: a test sees how each answer is classified. */
  client(): EMRServerlessClient {
    return new EMRServerlessClient({
      region: REGION,
      endpoint: this.endpoint,
      credentials: FAKE_CREDENTIALS,
      maxAttempts: 1,
    });
  }

  /** The state the next GetJobRun reports. */
  state(run: DoubleJobRun): string {
    return run.states[run.step];
  }

  async start(): Promise<void> {
    const base = '^/applications/([^/]+)';
    this.server = await serve([
      {
        method: 'GET',
        pattern: new RegExp(`${base}$`),
        handle: (m) => this.fault('GetApplication') ?? this.getApplication(m[1]),
      },
      {
        method: 'POST',
        pattern: new RegExp(`${base}/jobruns$`),
        handle: (m, body) => this.fault('StartJobRun') ?? this.startJobRun(m[1], body as Record<string, unknown>),
      },
      {
        method: 'GET',
        pattern: new RegExp(`${base}/jobruns$`),
        handle: (m) => this.fault('ListJobRuns') ?? this.listJobRuns(m[1]),
      },
      {
        method: 'GET',
        pattern: new RegExp(`${base}/jobruns/([^/]+)$`),
        handle: (m) => this.fault('GetJobRun') ?? this.getJobRun(m[1], m[2]),
      },
      {
        method: 'DELETE',
        pattern: new RegExp(`${base}/jobruns/([^/]+)$`),
        handle: (m) => this.fault('CancelJobRun') ?? this.cancelJobRun(m[1], m[2]),
      },
    ]);
  }

  /** Calls of one API (StartJobRun, CancelJobRun, ...), counted as the double saw them. */
  count(call: string): number {
    return this.calls.filter((c) => c === call || c.startsWith(`${call} `)).length;
  }

  /** Ends a run held in its last state (e.g. RUNNING) with `state` after the next GetJobRun. */
  finish(run: DoubleJobRun, state = 'SUCCESS'): void {
    run.states.push(state);
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private fault(call: string): Reply | undefined {
    this.calls.push(call);
    return this.faults.shift();
  }

  private getApplication(id: string): Reply {
    const app = this.applications.get(id);
    if (!app) return awsError(400, 'ResourceNotFoundException', `Application ${id} does not exist`);
    return ok({
      application: {
        applicationId: id,
        name: id,
        arn: `arn:aws:emr-serverless:us-east-1:123456789012:/applications/${id}`,
        releaseLabel: 'emr-7.5.0',
        type: app.type,
        state: app.state,
      },
    });
  }

  private startJobRun(applicationId: string, body: Record<string, unknown>): Reply {
    if (!this.applications.has(applicationId))
      return awsError(400, 'ResourceNotFoundException', `Application ${applicationId} does not exist`);
    const token = String(body.clientToken ?? '');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(token))
      return awsError(400, 'ValidationException', `clientToken ${token} is invalid`);
    const existing = this.runs.find((r) => r.applicationId === applicationId && r.clientToken === token);
    // Idempotency as EMR does it: the same token answers with the run it started.
    const run = existing ?? this.newRun(applicationId, token, body);
    return ok({
      applicationId,
      jobRunId: run.jobRunId,
      arn: `arn:aws:emr-serverless:us-east-1:123456789012:/applications/${applicationId}/jobruns/${run.jobRunId}`,
    });
  }

  private newRun(applicationId: string, token: string, body: Record<string, unknown>): DoubleJobRun {
    const script = this.scripts.shift() ?? { states: HAPPY_PATH };
    const run: DoubleJobRun = {
      applicationId,
      jobRunId: `jr${String(this.runs.length + 1).padStart(6, '0')}`,
      clientToken: token,
      name: body.name as string | undefined,
      executionRoleArn: String(body.executionRoleArn),
      jobDriver: body.jobDriver,
      configurationOverrides: body.configurationOverrides,
      tags: body.tags as Record<string, string> | undefined,
      states: [...script.states],
      step: 0,
      stateDetails: script.stateDetails,
      cancelled: false,
    };
    this.runs.push(run);
    return run;
  }

  /** Every run of the application in its current state (the state filter is left to the caller), one page. */
  private listJobRuns(applicationId: string): Reply {
    if (!this.applications.has(applicationId))
      return awsError(400, 'ResourceNotFoundException', `Application ${applicationId} does not exist`);
    return ok({
      jobRuns: this.runs
        .filter((r) => r.applicationId === applicationId)
        .map((r) => ({
          applicationId,
          id: r.jobRunId,
          name: r.name,
          arn: `arn:aws:emr-serverless:us-east-1:123456789012:/applications/${applicationId}/jobruns/${r.jobRunId}`,
          createdBy: 'arn:aws:iam::123456789012:user/test',
          createdAt: 1_760_000_000,
          updatedAt: 1_760_000_000,
          executionRole: r.executionRoleArn,
          state: this.state(r),
          stateDetails: '',
          releaseLabel: 'emr-7.5.0',
          type: 'Spark',
        })),
    });
  }

  private find(applicationId: string, jobRunId: string): DoubleJobRun | undefined {
    return this.runs.find((r) => r.applicationId === applicationId && r.jobRunId === jobRunId);
  }

  private getJobRun(applicationId: string, jobRunId: string): Reply {
    const run = this.find(applicationId, jobRunId);
    if (!run) return awsError(400, 'ResourceNotFoundException', `Job run ${jobRunId} does not exist`);
    const state = this.state(run);
    this.calls[this.calls.length - 1] = `GetJobRun ${state}`;
    run.step = Math.min(run.step + 1, run.states.length - 1);
    return ok({
      jobRun: {
        applicationId,
        jobRunId,
        name: run.name,
        arn: `arn:aws:emr-serverless:us-east-1:123456789012:/applications/${applicationId}/jobruns/${jobRunId}`,
        createdBy: 'arn:aws:iam::123456789012:user/test',
        createdAt: 1_760_000_000,
        updatedAt: 1_760_000_000,
        executionRole: run.executionRoleArn,
        state,
        stateDetails:
          state === 'FAILED' || state === 'CANCELLED' || state === 'CANCELLING' ? (run.stateDetails ?? '') : '',
        releaseLabel: 'emr-7.5.0',
        jobDriver: run.jobDriver,
        configurationOverrides: run.configurationOverrides,
        tags: run.tags,
      },
    });
  }

  private cancelJobRun(applicationId: string, jobRunId: string): Reply {
    const run = this.find(applicationId, jobRunId);
    if (!run) return awsError(400, 'ResourceNotFoundException', `Job run ${jobRunId} does not exist`);
    const state = this.state(run);
    if (['SUCCESS', 'FAILED', 'CANCELLED'].includes(state)) {
      return awsError(400, 'ValidationException', `Job run ${jobRunId} is in terminal state ${state}`);
    }
    // EMR goes through CANCELLING before CANCELLED.
    run.cancelled = true;
    run.states = [
      ...run.states.slice(0, run.step),
      ...Array<string>(this.cancellingSteps).fill('CANCELLING'),
      'CANCELLED',
    ];
    run.stateDetails = 'Job run cancelled by user';
    return ok({ applicationId, jobRunId });
  }
}
