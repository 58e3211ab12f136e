/** Payload sizes in workflow histories: what the SDK sent (inputs, results, carries), for the scale checks. */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface LargestPayload {
  bytes: number;
  /** Event type and id, e.g. `WORKFLOW_EXECUTION_CONTINUED_AS_NEW #4512`. */
  where: string;
}

/** Bytes of the payloads one event carries (every Payload's data and metadata, summed). */
export function eventPayloadBytes(event: unknown): number {
  let total = 0;
  const walk = (value: unknown, depth: number): void => {
    if (!value || typeof value !== 'object' || depth > 12) return;
    if (value instanceof Uint8Array) return;
    const v = value as Record<string, unknown>;
    if (v.data instanceof Uint8Array && 'metadata' in v) {
      total += v.data.length;
      for (const m of Object.values((v.metadata ?? {}) as Record<string, Uint8Array>)) total += m?.length ?? 0;
      return;
    }
    for (const child of Object.values(v)) walk(child, depth + 1);
  };
  walk(event, 0);
  return total;
}

export function largestPayloadOf(events: readonly HistoryEvent[]): LargestPayload {
  let best: LargestPayload = { bytes: 0, where: '-' };
  for (const e of events) {
    const bytes = eventPayloadBytes(e);
    if (bytes > best.bytes) best = { bytes, where: `${eventTypeName(e)} #${String(e.eventId)}` };
  }
  return best;
}

function eventTypeName(e: HistoryEvent): string {
  const attrs = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]);
  return attrs ? attrs.replace(/EventAttributes$/, '') : String(e.eventType);
}

/** The histories of every run of a workflow, following continue-as-new from its first run. */
export async function runHistories(client: Client, workflowId: string, firstRunId: string): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: { events?: HistoryEvent[] | null } = await client.workflow
      .getHandle(workflowId, runId)
      .fetchHistory();
    const events: HistoryEvent[] = history.events ?? [];
    runs.push(events);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}
