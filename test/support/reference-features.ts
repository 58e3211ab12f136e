/**
 * An independent, deliberately naive computation of the gold features straight from bronze
 * files, to check the Spark job's output against: O(n^2) per card, no shared code with the job.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export interface ReferenceRow {
  card_id: string;
  event_id: string;
  event_time: number;
  txn_count_1h: number;
  txn_count_24h: number;
  amount_sum_24h: number;
  merchant_count_24h: number;
  dt: string;
}

interface Event {
  event_id: string;
  card_id: string;
  merchant_id: string;
  amount: number;
  status: string;
  event_time: number;
  currency: string;
  arrival: string;
}

const dateOf = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);

export function readBronzeEvents(lake: string, latenessDays = 1): Event[] {
  const table = path.join(lake, 'bronze', 'streaming', 'card_authorization');
  const byId = new Map<string, Event>();
  for (const dir of fs.readdirSync(table).sort()) {
    const arrival = dir.replace('dt=', '');
    for (const file of fs.readdirSync(path.join(table, dir)).sort()) {
      const text = zlib.gunzipSync(fs.readFileSync(path.join(table, dir, file))).toString('utf8');
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        let e: Event;
        try {
          e = { ...JSON.parse(line), arrival };
        } catch {
          continue;
        }
        const ok =
          typeof e.event_id === 'string' &&
          typeof e.card_id === 'string' &&
          typeof e.merchant_id === 'string' &&
          typeof e.amount === 'number' &&
          typeof e.event_time === 'number' &&
          ['APPROVED', 'DECLINED'].includes(e.status) &&
          /^[A-Z]{3}$/.test(e.currency ?? '');
        if (!ok) continue;
        // Blank identifiers (ASCII white space only) and amounts not above zero in cents are quarantined.
        if ([e.event_id, e.card_id, e.merchant_id].some((id) => /^[ \t\n\x0B\f\r]*$/.test(id))) continue;
        if (Math.round(e.amount * 100) <= 0) continue;
        const lag = (Date.parse(arrival) - Date.parse(dateOf(e.event_time))) / 86_400_000;
        if (lag < 0 || lag > latenessDays) continue;
        // One event per event_id and event date (copies that disagree on the date are kept per date).
        const key = `${e.event_id}|${dateOf(e.event_time)}`;
        const seen = byId.get(key);
        if (!seen || seen.arrival > arrival) byId.set(key, e);
      }
    }
  }
  return [...byId.values()];
}

export function referenceFeatures(events: Event[], countedStatuses: string[]): ReferenceRow[] {
  const byCard = new Map<string, Event[]>();
  for (const e of events) byCard.set(e.card_id, [...(byCard.get(e.card_id) ?? []), e]);
  const rows: ReferenceRow[] = [];
  for (const list of byCard.values()) {
    for (const e of list) {
      const inWindow = (w: number) =>
        list.filter(
          (o) => o.event_time >= e.event_time - w && o.event_time <= e.event_time && countedStatuses.includes(o.status),
        );
      const day = inWindow(86_400);
      rows.push({
        card_id: e.card_id,
        event_id: e.event_id,
        event_time: e.event_time,
        txn_count_1h: inWindow(3600).length,
        txn_count_24h: day.length,
        // Cents as integers so the sum is exact, as the job's decimal sum is.
        amount_sum_24h: day.reduce((s, o) => s + Math.round(o.amount * 100), 0) / 100,
        merchant_count_24h: new Set(day.map((o) => o.merchant_id)).size,
        dt: dateOf(e.event_time),
      });
    }
  }
  return rows;
}
