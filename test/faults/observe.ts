/**
 * Observing where the stack is, from outside, so a fault lands at a chosen moment: a Spark job of
 * the lake running, the job publishing to the offline store, the API loop sending, a gold commit
 * the catalog has not picked up yet.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processesOnLake } from './processes';
import type { Moment } from './schedule';
import { sleep } from '../support/until';

export interface Seen {
  moment: Moment;
  /** A spark-submit of the lake, when the moment involves one (its worker is the one to kill). */
  sparkPid?: number;
}

function sparkJobs(lake: string): { pid: number; cmd: string }[] {
  return processesOnLake(lake).filter(
    (p) => /spark-submit|SparkSubmit/.test(p.cmd) && p.cmd.includes('backfill_features'),
  );
}

function jsonFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...jsonFiles(full));
    else if (e.name.endsWith('.json')) out.push(full);
  }
  return out;
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function spark(lake: string): Seen | undefined {
  const job = sparkJobs(lake)[0];
  return job ? { moment: 'spark', sparkPid: job.pid } : undefined;
}

function publish(lake: string): Seen | undefined {
  const job = sparkJobs(lake).find((p) => p.cmd.includes('--offline-publish-dates'));
  return job ? { moment: 'publish', sparkPid: job.pid } : undefined;
}

function ingest(lake: string): Seen | undefined {
  const sending = jsonFiles(path.join(lake, '_ledger', 'publication')).some((f) => {
    const pub = readJson(f);
    return pub?.status === 'in_progress' && pub.sending === true && pub.published_with !== 'spark';
  });
  return sending ? { moment: 'ingest' } : undefined;
}

function catalog(lake: string): Seen | undefined {
  const catalogFile = path.join(lake, '_catalog', 'catalog.json');
  const refreshed = fs.existsSync(catalogFile) ? fs.statSync(catalogFile).mtimeMs : 0;
  const behind = jsonFiles(path.join(lake, '_ledger', 'gold')).some((f) => fs.statSync(f).mtimeMs > refreshed);
  return behind ? { moment: 'catalog' } : undefined;
}

const CHECKS: Record<string, (lake: string) => Seen | undefined> = { spark, publish, ingest, catalog };

/** What is under way now, for a moment ('any': whichever comes first). */
export function observe(lake: string, moment: Moment): Seen | undefined {
  if (moment === 'now') return { moment };
  if (moment === 'any') {
    for (const check of Object.values(CHECKS)) {
      const seen = check(lake);
      if (seen) return seen;
    }
    return undefined;
  }
  return CHECKS[moment]?.(lake);
}

/**
 * Polls for the moment until it is seen, `idle()` says nothing runs any more (it will not come), or
 * `timeoutMs` passes. Undefined when it was not seen: the step then acts anyway, and says so.
 */
export async function waitFor(
  lake: string,
  moment: Moment,
  idle: () => Promise<boolean>,
  timeoutMs: number,
): Promise<Seen | undefined> {
  const deadline = Date.now() + timeoutMs;
  let polls = 0;
  while (Date.now() < deadline) {
    const seen = observe(lake, moment);
    if (seen) return seen;
    // Asking the server is dearer than a look at the lake: every 20th poll.
    if (++polls % 20 === 0 && (await idle())) return undefined;
    await sleep(50);
  }
  return undefined;
}
