/**
 * The Temporal task priority a backfill's tasks carry, so that production work sharing a task queue
 * goes first and backfills share what is left fairly. Pure: validateInput() reads the request's
 * choice, the workflows turn it into the priority of their activities and children.
 */
import { InputError } from './input-error';
import { object } from './input-fields';

/**
 * The server's priority keys are 1 (first) to 5 by default (matching.priorityLevels); unset means
 * 3, the middle: what production work gets when it sets nothing.
 */
export const PRODUCTION_PRIORITY_KEY = 3;
export const MAX_PRIORITY_KEY = 5;
/** One below production's default: production's tasks go first, and 5 stays free for work below backfills. */
export const DEFAULT_BACKFILL_PRIORITY_KEY = 4;
/** The server keys fairness by at most 64 bytes. */
export const MAX_FAIRNESS_KEY_BYTES = 64;
/** The range the server clamps weights to; outside it the request is refused rather than silently clamped. */
export const FAIRNESS_WEIGHT_RANGE = [0.001, 1000] as const;

/** The request's priority option (each field only when given). */
export interface TaskPriorityChoice {
  /**
   * Temporal priority key of every backfill task: 1 runs first, 5 last; production's unset tasks have 3.
   * @default DEFAULT_BACKFILL_PRIORITY_KEY (4)
   */
  priorityKey?: number;
  /**
   * Fairness key: backfills with different keys share the queue's dispatch (at the same priority) by weight.
   * @default the backfill's workflow id (shortened with a hash beyond 64 bytes): each backfill its own share
   */
  fairnessKey?: string;
  /**
   * This backfill's share against other fairness keys (0.001 to 1000).
   * @default 1 (the server's default)
   */
  fairnessWeight?: number;
}

/** The priority the tasks carry, in the SDK's form (`Priority` of @temporalio/common). */
export interface TaskPriority {
  priorityKey: number;
  fairnessKey: string;
  fairnessWeight?: number;
}

/** The request's `priority` field, checked; undefined when not given (the defaults apply). */
export function taskPriorityChoice(v: unknown): TaskPriorityChoice | undefined {
  const o = object(v, 'priority');
  if (!o) return undefined;
  for (const key of Object.keys(o)) {
    if (!['priorityKey', 'fairnessKey', 'fairnessWeight'].includes(key))
      throw new InputError(`priority.${key}`, 'unknown field; known fields: priorityKey, fairnessKey, fairnessWeight');
  }
  const out: TaskPriorityChoice = {};
  const { priorityKey, fairnessKey, fairnessWeight } = o;
  if (priorityKey !== undefined && priorityKey !== null) {
    if (
      typeof priorityKey !== 'number' ||
      !Number.isInteger(priorityKey) ||
      priorityKey < 1 ||
      priorityKey > MAX_PRIORITY_KEY
    )
      throw new InputError(
        'priority.priorityKey',
        `must be a whole number from 1 (first) to ${MAX_PRIORITY_KEY} (last), got ${JSON.stringify(priorityKey)}`,
      );
    out.priorityKey = priorityKey;
  }
  if (fairnessKey !== undefined && fairnessKey !== null) {
    if (typeof fairnessKey !== 'string' || fairnessKey.trim() === '' || utf8Bytes(fairnessKey) > MAX_FAIRNESS_KEY_BYTES)
      throw new InputError(
        'priority.fairnessKey',
        `must be a non-empty string of at most ${MAX_FAIRNESS_KEY_BYTES} bytes, got ${JSON.stringify(fairnessKey)}`,
      );
    out.fairnessKey = fairnessKey;
  }
  if (fairnessWeight !== undefined && fairnessWeight !== null) {
    const [min, max] = FAIRNESS_WEIGHT_RANGE;
    if (
      typeof fairnessWeight !== 'number' ||
      !Number.isFinite(fairnessWeight) ||
      fairnessWeight < min ||
      fairnessWeight > max
    )
      throw new InputError(
        'priority.fairnessWeight',
        `must be a number from ${min} to ${max}, got ${JSON.stringify(fairnessWeight)}`,
      );
    out.fairnessWeight = fairnessWeight;
  }
  return out;
}

/** The priority of a backfill's tasks: the request's choice over the defaults, keyed by the backfill's workflow id. */
export function taskPriorityOf(choice: TaskPriorityChoice | undefined, backfillWorkflowId: string): TaskPriority {
  const priority: TaskPriority = {
    priorityKey: choice?.priorityKey ?? DEFAULT_BACKFILL_PRIORITY_KEY,
    fairnessKey: choice?.fairnessKey ?? fairnessKeyOf(backfillWorkflowId),
  };
  if (choice?.fairnessWeight !== undefined) priority.fairnessWeight = choice.fairnessWeight;
  return priority;
}

/**
 * A workflow id as a fairness key: as it is when it fits in 64 bytes, else its first 55 ASCII
 * characters, "~" and 8 hex digits of its hash (two long ids with one prefix stay apart).
 */
export function fairnessKeyOf(workflowId: string): string {
  if (utf8Bytes(workflowId) <= MAX_FAIRNESS_KEY_BYTES) return workflowId;
  const prefix = workflowId.replace(/[^\x20-\x7e]/g, '_').slice(0, 55);
  return `${prefix}~${fnv1a(workflowId)}`;
}

function utf8Bytes(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/** 32-bit FNV-1a over the UTF-16 code units, as 8 hex digits: short, stable, no dependency. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** One line for the dry run and the docs: what the tasks carry and what it means. */
export function describeTaskPriority(p: TaskPriority): string {
  const order =
    p.priorityKey > PRODUCTION_PRIORITY_KEY
      ? 'after production tasks at the default 3'
      : p.priorityKey === PRODUCTION_PRIORITY_KEY
        ? 'level with production tasks at the default 3'
        : 'before production tasks at the default 3';
  const weight = p.fairnessWeight === undefined ? 'weight 1' : `weight ${p.fairnessWeight}`;
  return `priority ${p.priorityKey} (${order}), fairness key ${p.fairnessKey} (${weight})`;
}
