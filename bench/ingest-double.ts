/**
 * The throttling Feature Store double in a process of its own, for bench/ingest.ts: a service's
 * CPU is not the client's, and in one process the double's work would be billed to the client.
 * Started with fork(); options come as JSON in argv[2]; answers 'report' messages on IPC.
 */
import { FeatureStoreDouble, type FeatureStoreDoubleOptions } from '../test/aws/feature-store-double';

export type DoubleProcessOptions = Omit<
  FeatureStoreDoubleOptions,
  'permanentError' | 'unprocessedFirstTime' | 'inject'
> & {
  /** Records whose event number n has n % badEvery === badEvery - 1 fail for good (0: none). */
  badEvery?: number;
};

export interface DoubleReport {
  stats: FeatureStoreDouble['stats'];
  /** Event ids written, with how many times each. */
  counts: [string, number][];
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as DoubleProcessOptions;
  const badEvery = options.badEvery ?? 0;
  const double = new FeatureStoreDouble({
    ...options,
    permanentError: (r) =>
      badEvery > 0 && Number(r.event_id.split('-evt-')[1]) % badEvery === badEvery - 1
        ? { code: 'ValidationError', message: 'malformed record' }
        : undefined,
  });
  await double.start();
  process.on('message', (m) => {
    if (m === 'report') {
      const report: DoubleReport = { stats: double.stats, counts: [...double.writeCounts()] };
      process.send!(report);
    }
    if (m === 'stop') void double.stop().then(() => process.exit(0));
  });
  process.send!({ endpoint: double.endpoint });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
