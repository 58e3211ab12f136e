/**
 * One schedule, start to end: a fresh lake and dev server, workers, the steps, every backfill to a
 * terminal state, the workers stopped, then the invariants.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Backfills } from './backfills';
import { bronzeHash, checkGold, reference } from './gold-invariants';
import { Prng } from './prng';
import { DevServer, freePort, processesOnLake, Workers } from './processes';
import { faultCount, GROUPS, type Schedule } from './schedule';
import { runStep, settle, type StepContext } from './steps';
import { checkStore } from './store-invariants';
import { ROOT, VENV_BIN } from '../support/temporal';

export interface ScheduleResult {
  schedule: Schedule;
  /** Faults that acted on live work (StepContext.landed). */
  faults: number;
  /** Faults the schedule drew. */
  scheduledFaults: number;
  violations: string[];
  notes: string[];
  seconds: number;
  /** Kept when there are violations, for a look. */
  workDir?: string;
}

export interface RunOptions {
  /** A schedule's backfills must have ended this long after its start, or they are cancelled. @default 600 s */
  deadlineMs?: number;
  /** How long a step waits for its moment. @default 45 s */
  momentTimeoutMs?: number;
  /** Keep the work directory (lake, logs) of every schedule, not only of those with violations. */
  keep?: boolean;
}

function makeLake(schedule: Schedule, dir: string): string {
  const lake = path.join(dir, 'lake');
  execFileSync(path.join(VENV_BIN, 'python'), [
    path.join(ROOT, 'scripts', 'generate_sample_data.py'),
    ...['--lake', lake, '--start-date', schedule.days[0], '--days', String(schedule.days.length)],
    ...['--events-per-day', String(schedule.eventsPerDay), '--cards', String(schedule.cards)],
    ...['--seed', String(schedule.seed % 100_000)],
  ]);
  return lake;
}

/** Stops the workers; anything still working on the lake after that outlived them (and is killed). */
async function stopAll(ctx: StepContext, problems: string[]): Promise<void> {
  await ctx.workers.stopAll();
  await Promise.all(ctx.draining);
  for (const p of processesOnLake(ctx.lake)) {
    problems.push(`process outlived the workers: ${p.pid} ${p.cmd.slice(0, 200)}`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

async function check(ctx: StepContext, bronze: string, problems: string[]): Promise<void> {
  const notes = ctx.notes;
  const runs = await ctx.backfills.reports(notes, problems);
  for (const r of runs)
    notes.push(`report ${r.report.workflowId}: ${r.report.status} ${JSON.stringify(r.report.totals)}`);
  if (bronzeHash(ctx.lake) !== bronze) problems.push('bronze changed');
  const { gold, problems: goldProblems } = await checkGold(ctx.lake, reference(ctx.lake));
  problems.push(...goldProblems);
  problems.push(...(await checkStore(ctx.lake, [...GROUPS], gold, runs)));
}

/**
 * The steps in order; a fault whose moment can no longer come (every started backfill has ended)
 * first brings the next start forward, so faults land on running work rather than on an idle stack.
 */
async function runSteps(ctx: StepContext): Promise<void> {
  const queue = [...ctx.schedule.steps];
  while (queue.length > 0 && !ctx.workers.crashed) {
    const step = queue.shift()!;
    const waits = step.op !== 'start' && step.at !== 'now' && step.at !== 'ended';
    const next = queue.findIndex((s) => s.op === 'start');
    if (waits && next >= 0 && (await ctx.backfills.allEnded())) {
      const [start] = queue.splice(next, 1);
      ctx.notes.push(`start ${start.backfill} brought forward: nothing running`);
      await runStep(ctx, { ...start, at: 'now', delayMs: 0 });
    }
    await runStep(ctx, step);
  }
}

export async function runSchedule(schedule: Schedule, opts: RunOptions = {}): Promise<ScheduleResult> {
  const began = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `faults-${schedule.seed}-`));
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(stateDir);
  const lake = makeLake(schedule, dir);
  const bronze = bronzeHash(lake);
  const server = new DevServer(await freePort(), stateDir);
  await server.start();
  const taskQueue = `faults-${schedule.seed}`;
  const ctx: StepContext = {
    schedule,
    lake,
    taskQueue,
    server,
    workers: new Workers({ address: server.address, taskQueue, stateDir }),
    backfills: new Backfills(server.address, stateDir),
    rng: new Prng(schedule.seed ^ 0x5bd1e995),
    notes: [],
    draining: [],
    momentTimeoutMs: opts.momentTimeoutMs ?? 45_000,
    landed: 0,
  };
  const problems: string[] = [];
  try {
    for (let i = 0; i < schedule.workers; i++) ctx.workers.start();
    const steps = (async () => {
      await runSteps(ctx);
      await settle(ctx, began + (opts.deadlineMs ?? 600_000), problems);
    })();
    await Promise.race([steps, ctx.workers.crashLoop]).catch(async (err: unknown) => {
      // The steps see the crash (settle stops waiting, no worker starts) and end before the clean-up.
      await steps.catch(() => undefined);
      throw err;
    });
    await stopAll(ctx, problems);
    ctx.notes.push(...ctx.workers.restarts);
    await check(ctx, bronze, problems);
  } catch (err) {
    problems.push(`harness error: ${(err as Error).stack ?? err}`);
  } finally {
    await ctx.workers.stopAll().catch(() => undefined);
    await ctx.backfills.close();
    await server.stop();
  }
  const keep = opts.keep || problems.length > 0;
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  return {
    schedule,
    faults: ctx.landed,
    scheduledFaults: faultCount(schedule),
    violations: problems,
    notes: ctx.notes,
    seconds: Math.round((Date.now() - began) / 1000),
    workDir: keep ? dir : undefined,
  };
}
