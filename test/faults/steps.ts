/**
 * Carrying out a schedule's steps on the live stack: each waits for its moment (observed in the lake
 * or the process table), waits its drawn delay, then starts a backfill or injects its fault.
 */
import type { ChildProcess } from 'node:child_process';
import { runArgs, type Backfills } from './backfills';
import { waitFor, type Seen } from './observe';
import { Prng } from './prng';
import type { DevServer, Workers } from './processes';
import type { Schedule, Step } from './schedule';
import { sleep, until } from '../support/until';

export interface StepContext {
  schedule: Schedule;
  lake: string;
  taskQueue: string;
  server: DevServer;
  workers: Workers;
  backfills: Backfills;
  /** Choices made while running (which worker to kill), drawn from the schedule's seed too. */
  rng: Prng;
  notes: string[];
  /** Workers draining after a SIGTERM: awaited before the checks. */
  draining: Promise<void>[];
  /** How long a step waits for its moment. */
  momentTimeoutMs: number;
  /**
   * Faults that acted on live work: a backfill still running when it acted (a retry-failed always
   * counts: it acts on an ended backfill by design). A fault on an idle stack proves nothing.
   */
  landed: number;
}

async function start(ctx: StepContext, index: number): Promise<void> {
  const spec = ctx.schedule.backfills[index];
  const res = await ctx.backfills.cli(runArgs(spec, ctx.lake, ctx.taskQueue));
  const id = res.stdout.trim().split('\n').pop() ?? '';
  ctx.notes.push(`start ${index}: exit ${res.code}${res.code ? `: ${lastLine(res.stderr)}` : ''}`);
  if (res.code === 0 && id.startsWith('backfill-')) await ctx.backfills.track(index, spec, id);
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.slice(0, 300) ?? '';
}

/** The worker to kill: the one running the observed Spark job, else one drawn among the living. */
function victim(ctx: StepContext, seen: Seen | undefined): ChildProcess | undefined {
  const alive = ctx.workers.alive();
  const owner = seen?.sparkPid ? ctx.workers.ownerOf(seen.sparkPid) : undefined;
  return owner ?? (alive.length ? alive[ctx.rng.int(0, alive.length - 1)] : undefined);
}

async function kill9(ctx: StepContext, seen: Seen | undefined): Promise<void> {
  const w = victim(ctx, seen);
  if (w) await ctx.workers.kill9(w);
  // Its replacement: a host lost and another one taking over.
  ctx.workers.start();
}

function sigterm(ctx: StepContext, seen: Seen | undefined): void {
  const w = victim(ctx, seen);
  // A deploy: the new worker starts while the old one drains.
  ctx.workers.start();
  if (w) ctx.draining.push(ctx.workers.sigterm(w));
}

async function cancel(ctx: StepContext, index: number): Promise<void> {
  const t = ctx.backfills.of(index);
  if (!t) return void ctx.notes.push(`cancel ${index}: never started`);
  const res = await ctx.backfills.cli(['cancel', t.workflowId]);
  ctx.notes.push(`cancel ${index}: exit ${res.code}${res.code ? `: ${lastLine(res.stderr)}` : ''}`);
}

async function retryFailed(ctx: StepContext, step: Step): Promise<void> {
  const t = ctx.backfills.of(step.backfill!);
  if (!t) return void ctx.notes.push(`retry-failed ${step.backfill}: never started`);
  if (step.at === 'ended')
    await until(() => ctx.backfills.ended(t), `backfill ${t.index} to end`, { timeoutMs: 600_000, everyMs: 1000 });
  const res = await ctx.backfills.cli(['retry-failed', t.workflowId, '--aws', '--no-follow']);
  ctx.notes.push(`retry-failed ${t.index}: exit ${res.code}: ${lastLine(res.stdout + res.stderr)}`);
  await ctx.backfills.track(t.index, t.spec, t.workflowId);
}

/** Waits for the step's moment (not for 'now' or 'ended'), then its delay. */
async function momentOf(ctx: StepContext, step: Step): Promise<Seen | undefined> {
  if (step.at === 'now' || step.at === 'ended') return undefined;
  const seen = await waitFor(ctx.lake, step.at, () => ctx.backfills.allEnded(), ctx.momentTimeoutMs);
  if (!seen) ctx.notes.push(`${step.op}: moment ${step.at} not seen, acting anyway`);
  await sleep(step.delayMs);
  return seen;
}

export async function runStep(ctx: StepContext, step: Step): Promise<void> {
  const seen = await momentOf(ctx, step);
  const label = `${step.op}${step.backfill !== undefined ? ` ${step.backfill}` : ''} at ${seen?.moment ?? step.at}`;
  if (step.op !== 'start') {
    const live = step.op === 'retry-failed' || !(await ctx.backfills.allEnded());
    if (live) ctx.landed++;
    ctx.notes.push(`fault: ${label}${live ? '' : ' (nothing running: not counted)'}`);
  }
  switch (step.op) {
    case 'start':
      return start(ctx, step.backfill!);
    case 'kill9':
      return kill9(ctx, seen);
    case 'sigterm':
      return sigterm(ctx, seen);
    case 'restart-server':
      return ctx.server.restart();
    case 'cancel':
      return cancel(ctx, step.backfill!);
    case 'retry-failed':
      return retryFailed(ctx, step);
  }
}

/**
 * Every started backfill to a terminal state: waits, and past the deadline cancels what still runs
 * and waits again. What still runs then is a problem.
 */
export async function settle(ctx: StepContext, deadline: number, problems: string[]): Promise<void> {
  if (ctx.workers.alive().length === 0 && !ctx.workers.crashed) ctx.workers.start();
  // Workers in a crash loop end nothing: stop waiting (the runner reports the loop).
  const ended = async () => ctx.workers.crashed || (await ctx.backfills.allEnded());
  const wait = (ms: number) =>
    until(ended, 'every backfill to end', { timeoutMs: ms, everyMs: 1000 }).then(
      () => true,
      () => false,
    );
  if ((await wait(Math.max(deadline - Date.now(), 1000))) || ctx.workers.crashed) return;
  for (const t of ctx.backfills.tracked) {
    if (await ctx.backfills.ended(t)) continue;
    ctx.notes.push(`backfill ${t.index}: still running at the deadline, cancelled`);
    await ctx.backfills.cli(['cancel', t.workflowId]);
  }
  if (await wait(180_000)) return;
  for (const t of ctx.backfills.tracked) {
    if (await ctx.backfills.ended(t)) continue;
    problems.push(`backfill ${t.index} (${t.workflowId}): no terminal state 3 minutes after its cancel`);
  }
}
