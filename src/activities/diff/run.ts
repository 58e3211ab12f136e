/**
 * Runs `backfill diff`'s Spark job through a SparkRunner (local spark-submit, or EMR Serverless)
 * the way the Spark step runs the feature job: the same entry point (`backfill_features.py diff`),
 * the spec and the result as objects in the lake (`_diffs/<id>/`), the run polled to its end.
 */
import type { BackfillRequest } from '../../common/input';
import type { Lake, SparkRunner } from '../backends';
import { lakeRoot } from '../lake-paths';
import type { DiffComputation } from './result';
import type { ResolvedSide } from './sides';

export interface DiffJobInput {
  lake: Lake;
  runner: SparkRunner;
  /** The lake and, on EMR, the application, role and code bucket the job runs with. */
  request: BackfillRequest;
  a: ResolvedSide;
  b: ResolvedSide;
  features: string[];
  /** Cards listed as changing most. */
  topCards: number;
  /** Names the run and its folder in the lake, e.g. `v2-vs-v1-2025-10-01-2025-10-07-20261205T0400`. */
  id: string;
  /**
   * How often the run is polled, ms.
   * @default 1000
   */
  pollMs?: number;
}

/** Where the job's spec and result live: hidden from gold readers and listings (leading `_`). */
export function diffFolder(request: BackfillRequest, id: string): string {
  return `${lakeRoot(request.bucket)}/_diffs/${id}`;
}

export async function runDiffJob(input: DiffJobInput): Promise<DiffComputation> {
  const { lake, runner, request, id } = input;
  const folder = diffFolder(request, id);
  const spec = {
    features: input.features,
    top_cards: input.topCards,
    a: { label: input.a.label, days: input.a.days },
    b: { label: input.b.label, days: input.b.days },
  };
  await lake.writeText(`${folder}/spec.json`, JSON.stringify(spec));
  const args = ['diff', '--spec', `${folder}/spec.json`, '--output', `${folder}/result.json`];
  const chunk = { index: 0, id: 'diff', startDate: request.startDate, endDate: request.endDate, days: 1 };
  const handle = await runner.submit({ request, chunk, args, runName: `diff/${id}` });
  for (;;) {
    const status = await runner.status(handle);
    if (status.state === 'succeeded') break;
    if (status.state !== 'running' && status.state !== 'pending')
      throw new Error(`diff job ${handle.id} ${status.state}: ${status.detail ?? 'no detail'}`);
    await new Promise((r) => setTimeout(r, input.pollMs ?? 1000)); // polling the run, as the Spark step does
  }
  const text = await lake.readText(`${folder}/result.json`);
  if (!text) throw new Error(`diff job ${handle.id} succeeded but wrote no ${folder}/result.json`);
  return JSON.parse(text) as DiffComputation;
}
