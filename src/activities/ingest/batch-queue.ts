/** The unacknowledged batches of a chunk's days, read one day at a time as the queue runs dry. */
import type { DayPublication } from './day-publication';

export interface Batch<R> {
  /** The batch's number within its day, as the publication record counts them. */
  n: number;
  batch: R[];
  day: DayPublication;
}

export class BatchQueue<R> {
  private readonly queue: Batch<R>[] = [];
  private next = 0;
  private loading?: Promise<void>;
  /** Rows read so far, over all days. */
  recordsRead = 0;

  /** `readRows` gives a day's rows in the order its record numbers batches. */
  constructor(
    private readonly days: DayPublication[],
    private readonly readRows: (day: DayPublication) => Promise<R[]>,
  ) {}

  /** The next batch to send; undefined when every day is read and every batch taken. */
  async take(): Promise<Batch<R> | undefined> {
    // A day being read counts as batches to come: callers wait for it rather than leave (the last
    // day's read used to send every caller but the reader away, so a one-day chunk had one call in flight).
    while (this.queue.length === 0 && (this.next < this.days.length || this.loading)) {
      this.loading ??= this.load(this.days[this.next++]).finally(() => (this.loading = undefined));
      await this.loading;
    }
    return this.queue.shift();
  }

  private async load(day: DayPublication): Promise<void> {
    const rows = await this.readRows(day);
    this.recordsRead += rows.length;
    // Batch numbers follow the record's batch size, so a resumed attempt skips exactly the acknowledged ones.
    const size = day.pub.batch_size;
    if (rows.length !== day.pub.records)
      throw new Error(`gold of ${day.commit.dt} has ${rows.length} rows, its ledger commit says ${day.pub.records}`);
    for (let n = 0; n * size < rows.length; n++) {
      if (!day.isAcked(n)) this.queue.push({ n, batch: rows.slice(n * size, (n + 1) * size), day });
    }
  }
}
