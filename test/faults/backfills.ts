/**
 * The backfills of a schedule as the harness sees them: started and acted on through the CLI,
 * watched and collected through the Temporal client (every run of a workflow id: retry-failed of an
 * ended backfill starts a new run under the same id).
 */
import { Client, Connection } from '@temporalio/client';
import type { BackfillReport } from '../../src/common/results';
import { cli, type CliResult } from './processes';
import type { BackfillSpec } from './schedule';
import { VERSION } from './schedule';
import type { RunReport } from './store-invariants';

export interface Tracked {
  index: number;
  spec: BackfillSpec;
  workflowId: string;
  runIds: string[];
}

export function runArgs(spec: BackfillSpec, lake: string, taskQueue: string): string[] {
  const args = ['run', '--aws', '--no-follow', '--task-queue', taskQueue, '--bucket', lake];
  args.push('--start-date', spec.startDate, '--end-date', spec.endDate, '--feature-version', VERSION);
  args.push('--feature-group', spec.group, '--chunk-size-days', String(spec.chunkSizeDays));
  args.push('--max-concurrent-chunks', String(spec.maxConcurrentChunks));
  if (spec.overwrite) args.push('--overwrite');
  if (spec.waitForOverlap) args.push('--wait-for-overlap');
  if (spec.publishWith) args.push('--publish-with', spec.publishWith);
  if (spec.targetStores) args.push('--target-stores', spec.targetStores);
  return args;
}

export class Backfills {
  readonly tracked: Tracked[] = [];
  private client?: Client;

  constructor(
    private readonly address: string,
    private readonly stateDir: string,
  ) {}

  private async temporal(): Promise<Client> {
    this.client ??= new Client({ connection: await Connection.connect({ address: this.address }) });
    return this.client;
  }

  cli(args: string[]): Promise<CliResult> {
    return cli(args, this.address, this.stateDir);
  }

  /** The latest run's status name (RUNNING, COMPLETED, ...) and id; undefined while the server does not answer. */
  async describe(workflowId: string): Promise<{ status: string; runId: string } | undefined> {
    try {
      const d = await (await this.temporal()).workflow.getHandle(workflowId).describe();
      return { status: d.status.name, runId: d.runId };
    } catch {
      return undefined;
    }
  }

  /** Records the latest run of a backfill (after a start or a retry of an ended one). */
  async track(index: number, spec: BackfillSpec, workflowId: string): Promise<void> {
    const d = await this.describe(workflowId);
    let t = this.tracked.find((x) => x.workflowId === workflowId);
    if (!t) this.tracked.push((t = { index, spec, workflowId, runIds: [] }));
    if (d && !t.runIds.includes(d.runId)) t.runIds.push(d.runId);
  }

  of(index: number): Tracked | undefined {
    return this.tracked.find((t) => t.index === index);
  }

  /** Whether every tracked backfill has ended (a server that does not answer counts as not ended). */
  async allEnded(): Promise<boolean> {
    for (const t of this.tracked) {
      const d = await this.describe(t.workflowId);
      if (!d || d.status === 'RUNNING') return false;
    }
    return true;
  }

  async ended(t: Tracked): Promise<boolean> {
    const d = await this.describe(t.workflowId);
    return !!d && d.status !== 'RUNNING';
  }

  /** Every run's report; runs that ended without one are problems (refusals of an overlap are notes). */
  async reports(notes: string[], problems: string[]): Promise<RunReport[]> {
    const client = await this.temporal();
    const out: RunReport[] = [];
    for (const t of this.tracked) {
      for (const runId of t.runIds) {
        const handle = client.workflow.getHandle(t.workflowId, runId);
        const status = (await handle.describe()).status.name;
        if (status === 'COMPLETED') {
          out.push({ spec: t.spec, report: (await handle.result()) as BackfillReport });
          continue;
        }
        const why = await handle.result().then(
          () => '',
          (err: Error) => `${err.message}${err.cause ? `: ${(err.cause as Error).message}` : ''}`,
        );
        const line = `backfill ${t.index} (${t.workflowId} run ${runId}) ended ${status}: ${why}`;
        (/overlap|already running|held by/i.test(why) ? notes : problems).push(line);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.client?.connection.close().catch(() => undefined);
  }
}
