/**
 * Backfill tasks carry a Temporal task priority (src/common/task-priority.ts): on the dev server,
 * with one activity slot on a task queue shared with production work, production's tasks queued
 * after a backfill's still run first; and the priority is on every task in the histories.
 */
import assert from 'node:assert/strict';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { BackfillReport } from '../src/common/results';
import { DEFAULT_BACKFILL_PRIORITY_KEY, taskPriorityOf } from '../src/common/task-priority';
import { fakeActivities } from './support/fake-activities';
import { createDevServerEnv } from './support/temporal';
import { until } from './support/until';

const WORKFLOWS = require.resolve('./support/priority-workflows');
/** One partition: the server orders by priority within a partition (several would each dispatch their own). */
const ONE_PARTITION = ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1'].flatMap(
  (v) => ['--dynamic-config-value', v],
);

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

describe('task priority on a shared task queue (dev server)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let n = 0;
  const holding = { value: false };

  before(async () => {
    env = await createDevServerEnv(ONE_PARTITION);
  });
  after(async () => {
    await env?.teardown();
  });

  /** A worker with one activity slot, backfill and production activities, no eager dispatch (it bypasses the queue). */
  async function sharedWorker(fake: ReturnType<typeof fakeActivities>, taskQueue: string) {
    return Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS,
      activities: {
        ...fake.activities,
        production: async ({ i, tag }: { i: number; tag?: string }) => {
          fake.calls.push({ step: tag ?? 'production', chunkId: String(i) });
          // A 'hold' task keeps the only slot while the test queues work behind it.
          if (tag === 'hold') await until(() => !holding.value, 'the test releasing the slot');
        },
      },
      maxConcurrentActivityTaskExecutions: 1,
      maxEagerActivityReservationsPerWorkflowTask: 0,
    });
  }

  async function pendingActivities(workflowId: string): Promise<string[]> {
    const d = await env.client.workflow.getHandle(workflowId).describe();
    return (d.raw.pendingActivities ?? []).map((a) => a.activityType?.name ?? '?');
  }

  async function events(workflowId: string): Promise<HistoryEvent[]> {
    return (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  }

  function scheduled(history: HistoryEvent[]) {
    return history
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a): a is temporal.api.history.v1.IActivityTaskScheduledEventAttributes => !!a);
  }

  it("runs production's tasks queued after a backfill's first, and every backfill task carries the priority", async () => {
    let holding = true;
    let first: string | undefined;
    const fake = fakeActivities({
      // The first chunk's Spark job to run takes the only slot until the other's and production's work are queued.
      holdWhile: (step, chunk) => holding && step === 'spark' && chunk.id === (first ??= chunk.id),
    });
    const taskQueue = `priority-${++n}`;
    const worker = await sharedWorker(fake, taskQueue);
    const backfillId = `priority-backfill-${n}`;
    const chunkIds = ['2025-10-01_2025-10-01', '2025-10-02_2025-10-02'];
    let other = '';
    let chunk2 = '';
    const productionId = `production-${n}`;
    const report: BackfillReport = await worker.runUntil(async () => {
      const backfill = await env.client.workflow.start('backfillWorkflow', {
        args: [
          {
            bucket: '/tmp/lake',
            startDate: '2025-10-01',
            endDate: '2025-10-02',
            chunkSizeDays: 1,
            maxConcurrentChunks: 2,
            // A weight given, key and fairness key left to their defaults: the request's choice reaches every chunk.
            priority: { fairnessWeight: 0.5 },
          },
        ],
        taskQueue,
        workflowId: backfillId,
      });
      await until(() => first, 'a chunk running its Spark job');
      other = chunkIds.find((id) => id !== first)!;
      chunk2 = `${backfillId}/chunk-${other}`;
      await until(
        async () => (await pendingActivities(chunk2)).includes('runSparkJob'),
        "the other chunk's job queued",
        {
          timeoutMs: 60_000,
        },
      );
      const production = await env.client.workflow.start('productionWorkflow', {
        args: [{ n: 3 }],
        taskQueue,
        workflowId: productionId,
      });
      await until(async () => (await pendingActivities(productionId)).length === 3, "production's 3 tasks queued");
      holding = false;
      await production.result();
      return (await backfill.result()) as BackfillReport;
    });
    assert.equal(report.status, 'succeeded');

    // The other chunk's job was queued before production's work, and still ran after it.
    const order = fake.calls.map((c) => `${c.step}:${c.chunkId}`);
    const chunk2Spark = order.indexOf(`spark:${other}`);
    assert.ok(chunk2Spark > 0, order.join(', '));
    const productionAt = order.flatMap((s, i) => (s.startsWith('production:') ? [i] : []));
    assert.equal(productionAt.length, 3);
    assert.ok(
      productionAt.every((i) => i < chunk2Spark),
      `production's tasks should run before the other chunk's Spark job; order: ${order.join(', ')}`,
    );

    // The priority is on every task: the backfill's own activities, its chunk children, their activities.
    const expected = { priorityKey: DEFAULT_BACKFILL_PRIORITY_KEY, fairnessKey: backfillId, fairnessWeight: 0.5 };
    const backfillHistory = await events(backfillId);
    const own = scheduled(backfillHistory);
    assert.ok(own.some((a) => a.activityType?.name === 'preflight'));
    // recordBackfillOutcome and acquireLease keep the workflow's own (docs/operations.md).
    for (const a of own.filter((a) => !['recordBackfillOutcome', 'acquireLease'].includes(a.activityType?.name ?? '')))
      assert.deepEqual(priorityOf(a.priority), expected, `${a.activityType?.name}`);
    const children = backfillHistory
      .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
      .filter((a) => !!a);
    assert.equal(children.length, 2);
    for (const c of children) assert.deepEqual(priorityOf(c.priority), expected);
    const chunkHistory = await events(chunk2);
    assert.deepEqual(priorityOf(chunkHistory[0].workflowExecutionStartedEventAttributes?.priority), expected);
    const chunkTasks = scheduled(chunkHistory);
    assert.deepEqual(chunkTasks.map((a) => a.activityType?.name).sort(), [
      'ingestFeatures',
      'refreshCatalog',
      'runSparkJob',
      'validateChunk',
    ]);
    for (const a of chunkTasks) assert.deepEqual(priorityOf(a.priority), expected, `${a.activityType?.name}`);
    // Production's tasks set none: the server's default.
    for (const a of scheduled(await events(productionId))) assert.equal(a.priority?.priorityKey ?? 0, 0);
  });

  it('takes the priority, fairness key and weight of the request, and the dry run shows them', async () => {
    const fake = fakeActivities();
    const taskQueue = `priority-${++n}`;
    const worker = await sharedWorker(fake, taskQueue);
    const workflowId = `priority-dry-run-${n}`;
    const priority = { priorityKey: 2, fairnessKey: 'team-risk', fairnessWeight: 2.5 };
    const report = (await worker.runUntil(
      env.client.workflow.execute('backfillWorkflow', {
        args: [{ bucket: '/tmp/lake', startDate: '2025-10-01', endDate: '2025-10-02', dryRun: true, priority }],
        taskQueue,
        workflowId,
      }),
    )) as BackfillReport;
    assert.deepEqual(report.dryRun?.taskPriority, priority);
    const tasks = scheduled(await events(workflowId));
    assert.deepEqual(
      tasks.map((a) => a.activityType?.name),
      ['preflight', 'inspectLake'],
    );
    for (const a of tasks) assert.deepEqual(priorityOf(a.priority), priority);
  });
});

/** The proto's priority as the request writes it (unset fields left out). */
function priorityOf(p: temporal.api.common.v1.IPriority | null | undefined) {
  const out: Record<string, unknown> = {};
  if (p?.priorityKey) out.priorityKey = p.priorityKey;
  if (p?.fairnessKey) out.fairnessKey = p.fairnessKey;
  if (p?.fairnessWeight) out.fairnessWeight = p.fairnessWeight;
  return out;
}

/**
 * Two backfills at the same priority: with fairness on (matching.enableFairness), tasks of two
 * fairness keys alternate instead of first-come first-served. Each backfill's key is its workflow id.
 */
describe('fairness between two backfills (dev server, fairness on)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  const holding = { value: true };
  const order: string[] = [];

  before(async () => {
    env = await createDevServerEnv([...ONE_PARTITION, '--dynamic-config-value', 'matching.enableFairness=true']);
  });
  after(async () => {
    await env?.teardown();
  });

  it('dispatches the tasks of two backfills queued one after the other in turns', async () => {
    const taskQueue = 'fairness';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS,
      activities: {
        production: async ({ i, tag }: { i: number; tag?: string }) => {
          order.push(`${tag}:${i}`);
          if (tag === 'hold') await until(() => !holding.value, 'the test releasing the slot');
        },
      },
      maxConcurrentActivityTaskExecutions: 1,
      maxEagerActivityReservationsPerWorkflowTask: 0,
    });
    const pending = async (workflowId: string) =>
      ((await env.client.workflow.getHandle(workflowId).describe()).raw.pendingActivities ?? []).length;
    await worker.runUntil(async () => {
      const hold = await env.client.workflow.start('productionWorkflow', {
        args: [{ n: 1, tag: 'hold' }],
        taskQueue,
        workflowId: 'hold',
      });
      await until(() => order.includes('hold:0'), 'the slot taken');
      const started = [];
      for (const id of ['backfill-a', 'backfill-b']) {
        // What a backfill's tasks carry by default: priority 4, its workflow id as fairness key.
        const priority = taskPriorityOf(undefined, id);
        started.push(
          await env.client.workflow.start('productionWorkflow', {
            args: [{ n: 4, tag: id, priority }],
            taskQueue,
            workflowId: id,
          }),
        );
        await until(async () => (await pending(id)) === 4, `${id}'s 4 tasks queued`);
      }
      holding.value = false;
      await Promise.all([hold, ...started].map((h) => h.result()));
    });
    const firstFour = order.slice(1, 5).map((s) => s.split(':')[0]);
    assert.deepEqual(
      [...new Set(firstFour)].sort(),
      ['backfill-a', 'backfill-b'],
      `the first four tasks after the slot freed should be of both backfills; order: ${order.join(', ')}`,
    );
  });
});
