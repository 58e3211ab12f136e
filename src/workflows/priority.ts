/**
 * The task priority of a backfill's work (src/common/task-priority.ts): the backfill workflow sets
 * it on its activities and chunk workflows; a chunk passes on what it was started with.
 */
import type { Priority } from '@temporalio/common';
import { workflowInfo } from '@temporalio/workflow';
import type { BackfillRequest } from '../common/input';
import { taskPriorityOf, type TaskPriority } from '../common/task-priority';

/** The backfill's priority: the request's choice over the defaults, fairness keyed by this workflow's id. */
export function backfillPriority(request: Pick<BackfillRequest, 'priority'>): TaskPriority {
  return taskPriorityOf(request.priority, workflowInfo().workflowId);
}

/**
 * What this (chunk) workflow was started with, set explicitly on its activities and children so
 * each task's history shows it; undefined when it has none (a chunk of a backfill from before priorities).
 */
export function startedPriority(): Priority | undefined {
  const p = workflowInfo().priority;
  if (!p || (!p.priorityKey && !p.fairnessKey && !p.fairnessWeight)) return undefined;
  return p;
}
