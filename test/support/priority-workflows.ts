/** The backfill's workflows and a stand-in for production work on the same task queue (test/task-priority.test.ts). */
import type { Priority } from '@temporalio/common';
import { proxyActivities } from '@temporalio/workflow';

export * from '../../src/workflows';

export interface ProductionActivities {
  production(input: { i: number; tag?: string }): Promise<void>;
}

const { production } = proxyActivities<ProductionActivities>({
  // The test's activities return at once; the bound only keeps a broken test from hanging.
  startToCloseTimeout: '1 minute',
});

/** Production work that sets no priority (the server's default, 3), or other work with `priority`: `n` activities at once. */
export async function productionWorkflow(input: { n: number; tag?: string; priority?: Priority }): Promise<void> {
  const { n, tag, priority } = input;
  await Promise.all(Array.from({ length: n }, (_, i) => production.executeWithOptions({ priority }, [{ i, tag }])));
}
