/** What one ingest attempt is handed by its activity, and what it reports as it goes. */
import type { RecordEntry } from '../backends';

/** A gold row as a feature store entry, with the ids its failures and its spread are told by. */
export type Row = { record: RecordEntry; eventId: string; recordId: string };

/** Small progress for heartbeats: the checkpoint itself lives in the ledger. */
export interface IngestProgress {
  recordsWritten: number;
  batches: number;
}

export interface IngestContext {
  heartbeat(progress: IngestProgress): void;
  sleep(ms: number): Promise<void>;
  random?: () => number;
  /**
   * Aborted when the activity is cancelled: no batch is taken after it, calls in flight end and
   * their acknowledgements are recorded, then the attempt fails as cancelled.
   * @default never aborted
   */
  cancellation?: AbortSignal;
}
