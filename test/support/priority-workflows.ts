/** The backfill's workflows and a stand-in for production work on the same task queue (test/task-priority.test.ts). */
import { proxyActivities } from '@temporalio/workflow';

export * from '../../src/workflows';

export interface ProductionActivities {
  production(input: { i: number }): Promise<void>;
}

const { production } = proxyActivities<ProductionActivities>({
  // The test's activities return at once; the bound only keeps a broken test from hanging.
  startToCloseTimeout: '1 minute',
});

/** Production work that sets no priority (the server's default, 3): `n` activities at once. */
export async function productionWorkflow(input: { n: number }): Promise<void> {
  await Promise.all(Array.from({ length: input.n }, (_, i) => production({ i })));
}
