/**
 * Self-healing chunks, second part: a Spark run that failed out of memory is run again with the
 * next rung of a memory ladder (e.g. 8g, 16g, 30g of executor memory), within one activity attempt,
 * up to the worker's cap. Each backend says which setting the ladder raises (Backends.memoryLadder).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FAILURE } from '../../common/failures';
import { nextRung, type MemoryLadder } from '../../common/memory-ladder';

/** One step up the ladder: the setting it ran with, the one it runs with next, and why. */
export interface MemoryEscalation {
  /** The setting raised (MemoryLadder.key). */
  key: string;
  from: string;
  to: string;
  signature: string;
}

/**
 * Java and YARN words that mean a process ran out of memory: the JVM's own error, a container or
 * executor killed for its memory, or exit code 137 (SIGKILL, which is what the OOM killer sends).
 */
const OOM_SIGNATURES: RegExp[] = [
  /java\.lang\.OutOfMemoryError[^\n;]*/,
  /Container killed by YARN for exceeding (?:physical |virtual )?memory limits[^\n;]*/i,
  /Container (?:killed|exited)[^\n;]*(?:exit code|exitCode|exit status)[ =:]*137[^\n;]*/i,
  /ExecutorLostFailure[^\n;]*(?:memory|OOM|137)[^\n;]*/i,
  /(?:executor|driver|worker)[^\n;]{0,80}(?:killed|lost|exited)[^\n;]{0,80}(?:out of memory|memory limit|OOM)[^\n;]*/i,
];

/** The words of `text` that say out of memory, or undefined. */
export function outOfMemorySignature(text: string | undefined): string | undefined {
  if (!text) return undefined;
  for (const pattern of OOM_SIGNATURES) {
    const m = pattern.exec(text);
    if (m) return m[0].trim().slice(0, 300);
  }
  return undefined;
}

/** The failure a run out of memory ends with: retryable unless the ladder is spent (more of the same cannot help). */
export function outOfMemoryFailure(o: {
  message: string;
  signature: string;
  memory?: string;
  topReached: boolean;
  details?: unknown;
}): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE.sparkOutOfMemory,
    message: o.topReached
      ? `${o.message}; out of memory at ${o.memory ?? 'the default memory'}, the top of the memory ladder (raise BACKFILL_SPARK_MEMORY_MAX or split the chunk)`
      : o.message,
    nonRetryable: o.topReached,
    details: [{ signature: o.signature, memory: o.memory, ...(o.details as object) }],
  });
}

/** The out-of-memory signature of a failure thrown by a run, if it is one. */
export function outOfMemoryOf(err: unknown): string | undefined {
  if (!(err instanceof ApplicationFailure) || err.type !== FAILURE.sparkOutOfMemory) return undefined;
  const d = err.details?.[0] as { signature?: string } | undefined;
  return d?.signature ?? err.message;
}

export interface LadderRun<T> {
  ladder?: MemoryLadder;
  /** The Spark settings of the first run (sizing and the request's own, merged). */
  conf: Record<string, string>;
  /** Runs the job with these settings; throws a SparkOutOfMemory failure when it ran out of memory. */
  run(conf: Record<string, string>, first: boolean): Promise<T>;
  onEscalate?(e: MemoryEscalation): void;
}

/** Runs, and on out of memory runs again a rung higher, until it succeeds or the ladder ends. */
export async function climbMemoryLadder<T>(
  o: LadderRun<T>,
): Promise<{ value: T; conf: Record<string, string>; escalations: MemoryEscalation[] }> {
  let conf = o.conf;
  const escalations: MemoryEscalation[] = [];
  for (let first = true; ; first = false) {
    try {
      return { value: await o.run(conf, first), conf, escalations };
    } catch (err) {
      const signature = outOfMemoryOf(err);
      if (!signature || !o.ladder) throw err;
      const from = conf[o.ladder.key];
      const to = nextRung(o.ladder, from);
      if (!to) {
        throw outOfMemoryFailure({
          message: (err as Error).message,
          signature,
          memory: from,
          topReached: true,
          details: { escalations },
        });
      }
      const step = { key: o.ladder.key, from: from ?? 'default', to, signature };
      escalations.push(step);
      o.onEscalate?.(step);
      conf = { ...conf, [o.ladder.key]: to };
    }
  }
}
