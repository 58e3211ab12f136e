/**
 * `backfill run --direct-emr`: the old helper's escape hatch. One EMR Serverless job run for the
 * whole range (the job walks it in --chunk-size-days sub-chunks), submitted with the same runner
 * the workflow uses, followed to its end. No workflow: no catalog refresh, ingestion or validation.
 */
import { ApplicationFailure } from '@temporalio/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { awsBackendOptionsFromEnv, createAwsClientsFromEnv } from '../../activities/aws';
import { DEFAULT_EMR_POLL_MS, EmrServerlessRunner, type EmrJobHandle } from '../../activities/aws/emr';
import { S3Lake } from '../../activities/aws/s3-lake';
import type { JobStatus } from '../../activities/backends';
import { lakeRoot, manifestUri } from '../../activities/lake-paths';
import { followJob } from '../../activities/spark/follow-job';
import { sparkJobArgs } from '../../activities/spark/args';
import { daysBetweenInclusive } from '../../common/dates';
import type { BackfillRequest } from '../../common/input';
import { planChunks, type ChunkSpec } from '../../common/plan';
import type { ChunkManifest } from '../../common/results';
import { backfillWorkflowId } from '../../common/workflow-id';
import { EXIT, type CliDeps, type Io } from '../io';
import { formatCount, formatDuration } from '../progress';
import { table } from '../report';
import type { RunOptions } from '../run-args';
import { UsageError } from '../usage';
import { FAILURE } from '../../common/failures';

type AwsClients = Pick<ReturnType<typeof createAwsClientsFromEnv>, 'emr' | 's3'>;

export async function directEmr(request: BackfillRequest, opts: RunOptions, io: Io, deps: CliDeps): Promise<number> {
  if (!lakeRoot(request.bucket).startsWith('s3://')) {
    throw new UsageError(
      `--bucket: "${request.bucket}" is not an S3 bucket; --direct-emr runs on EMR Serverless and needs a bucket name or s3:// URI`,
    );
  }
  if (request.glue) io.err('notice: --glue-crawler is not used with --direct-emr: the catalog is not refreshed.');
  const pollMs = deps.pollMs ?? DEFAULT_EMR_POLL_MS;
  const { clients, runner } = emrRunner(deps, pollMs);
  const subChunks = planChunks(request.startDate, request.endDate, request.chunkSizeDays);
  const handle = await submitRange(runner, request);
  io.err(
    `EMR job run ${handle.id} submitted on application ${handle.applicationId} for ${request.startDate} .. ${request.endDate} (${subChunks.length} sub-chunk(s) of ${request.chunkSizeDays} day(s))`,
  );
  if (handle.logLocation) io.err(`logs: ${handle.logLocation}`);
  if (!opts.follow) {
    io.out(handle.id);
    return EXIT.ok;
  }

  const status = await waitForRun(runner, handle, io, pollMs);
  if (status.state !== 'succeeded') {
    io.err(status.detail ?? `EMR job run ${handle.id} ${status.state.toUpperCase()}`);
    io.err('see the driver log (stderr) of the run; fix the cause and run the command again');
    return EXIT.failed;
  }
  const manifests = await readManifests(new S3Lake(clients.s3), request, subChunks);
  io.out(
    opts.json
      ? JSON.stringify(
          { jobRunId: handle.id, applicationId: handle.applicationId, state: status.state, manifests },
          null,
          2,
        )
      : formatDirectReport(handle, request, subChunks, manifests),
  );
  return EXIT.ok;
}

/** The AWS clients and the EMR runner the workflow uses, from the environment; bad settings are usage errors. */
function emrRunner(deps: CliDeps, pollMs: number): { clients: AwsClients; runner: EmrServerlessRunner } {
  let clients: AwsClients;
  let emrOptions;
  try {
    clients = deps.awsClients ? deps.awsClients() : createAwsClientsFromEnv();
    emrOptions = awsBackendOptionsFromEnv().emr;
  } catch (err) {
    throw new UsageError(`AWS settings: ${(err as Error).message}`);
  }
  // Someone is watching a Ctrl-C'd run stop: poll it at least every 2 s.
  const runner = new EmrServerlessRunner(
    clients.emr,
    { ...emrOptions, cancelPollMs: Math.min(pollMs, 2000) },
    clients.s3,
  );
  return { clients, runner };
}

/** Submits one job run for the whole range; the job walks it in sub-chunks of --chunk-size-days. */
async function submitRange(runner: EmrServerlessRunner, request: BackfillRequest): Promise<EmrJobHandle> {
  const range: ChunkSpec = {
    index: 0,
    id: `${request.startDate}_${request.endDate}`,
    startDate: request.startDate,
    endDate: request.endDate,
    days: daysBetweenInclusive(request.startDate, request.endDate),
  };
  const args = sparkJobArgs({
    request,
    chunk: range,
    codeRevision: process.env.BACKFILL_CODE_REVISION ?? '',
    subChunkDays: request.chunkSizeDays,
  });
  // A new name (and so a new EMR client token) per invocation: running the command again runs the job again.
  const runName = `${backfillWorkflowId(request)}/direct-emr-${new Date().toISOString().replace(/[:.]/g, '')}`;
  try {
    return await runner.submit({ request, chunk: range, args, runName });
  } catch (err) {
    throw awsUsage(err, request);
  }
}

/** Follows the run to its end, a line per state change; Ctrl-C cancels it and waits until it has stopped. */
async function waitForRun(
  runner: EmrServerlessRunner,
  handle: EmrJobHandle,
  io: Io,
  pollMs: number,
): Promise<JobStatus> {
  const started = Date.now();
  let last = '';
  const show = (status: JobStatus) => {
    const text = `EMR job run ${handle.id}: ${status.detail ?? status.state}`;
    if (io.isTTY && io.status) io.status(`${text} (${formatDuration(Date.now() - started)})`);
    else if (text !== last) io.err(`${new Date().toISOString()} ${text}`);
    last = text;
  };
  // Ctrl-C cancels the run: nobody would be left watching it, and it would keep writing.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    return await followJob({
      spark: runner,
      handle,
      wait: () => sleep(pollMs, undefined, { signal: interrupt.signal }),
      onStatus: show,
    });
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    io.err(`\ncancelling EMR job run ${handle.id} ...`);
    return await runner.cancel(handle, { onPoll: show });
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (io.isTTY && io.status) io.status('');
  }
}

async function readManifests(
  lake: S3Lake,
  request: BackfillRequest,
  chunks: ChunkSpec[],
): Promise<(ChunkManifest | undefined)[]> {
  return Promise.all(
    chunks.map(async (c) => {
      const text = await lake.readText(manifestUri(request, c.id)).catch(() => undefined);
      return text ? (JSON.parse(text) as ChunkManifest) : undefined;
    }),
  );
}

function formatDirectReport(
  handle: EmrJobHandle,
  request: BackfillRequest,
  chunks: ChunkSpec[],
  manifests: (ChunkManifest | undefined)[],
): string {
  const rows = [['SUB-CHUNK', 'ROWS', 'WRITTEN', 'SKIPPED', 'NO BRONZE']];
  chunks.forEach((c, i) => {
    const m = manifests[i];
    rows.push(
      m
        ? [
            c.id,
            formatCount(m.output_rows),
            m.written_partitions.join(' ') || '-',
            m.skipped_partitions.join(' ') || '-',
            m.coverage_gaps.join(' ') || '-',
          ]
        : [c.id, '?', 'no manifest found', '', ''],
    );
  });
  const total = manifests.reduce((s, m) => s + (m?.output_rows ?? 0), 0);
  return [
    `Direct EMR run ${handle.id}: SUCCEEDED`,
    `  ${request.featureVersion} gold for ${request.startDate} .. ${request.endDate}: ${formatCount(total)} rows`,
    '',
    ...table(rows, [false, true, false, false, false]),
    '',
    'Not done by a direct run: Glue catalog refresh, feature store ingestion, validation.',
    `To publish these days, run the same backfill without --direct-emr and with --overwrite (without it the days written here are skipped and never ingested).`,
    ...(handle.logLocation ? [`Logs: ${handle.logLocation}`] : []),
  ].join('\n');
}

/** EMR errors that no retry fixes: name the flag or setting to change. */
function awsUsage(err: unknown, request: BackfillRequest): unknown {
  if (!(err instanceof ApplicationFailure)) return err;
  if (err.type === FAILURE.invalidInput) {
    return new UsageError(
      `${err.message}; check --emr-app-id (${request.emr?.appId}), --emr-job-role and --code-bucket`,
    );
  }
  if (err.type === FAILURE.awsAccessDenied) {
    return new UsageError(
      `${err.message}; check the AWS credentials of this shell and --emr-job-role (${request.emr?.jobRole})`,
    );
  }
  return new Error(err.message);
}
