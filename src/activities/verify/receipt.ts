/**
 * `backfill verify`'s receipt: per day the ledger against the offline store (days.ts), then a
 * sample of cards read back from the online store against gold's latest row per card.
 */
import type { BackfillRequest } from '../../common/input';
import { dateRange } from '../../common/dates';
import type { Lake } from '../backends';
import { FEATURE_NAMES, goldRowToRecord, isoEventTime } from '../feature-records';
import { publicationOf, readDayState } from '../ledger/records';
import { recordDifference, verifyDay } from './days';
import type { DayReceipt, OfflineStoreReader, OnlineReceipt, OnlineStoreReader, VerifyReceipt } from './types';

export interface VerifyInput {
  lake: Lake;
  /** Bucket, prefixes, feature group and version, the range. */
  request: BackfillRequest;
  offline: OfflineStoreReader;
  online: OnlineStoreReader;
  /**
   * Cards read back from the online store.
   * @default 20
   */
  sampleCards?: number;
}

const FEATURES = FEATURE_NAMES.filter((n) => n !== 'card_id');

type GoldRow = Record<string, unknown>;

export async function verifyPublication(input: VerifyInput): Promise<VerifyReceipt> {
  const { lake, request } = input;
  const rows = await input.offline.rows({ ...request, featureGroup: request.featureGroup });
  const offlineByDay = new Map<string, typeof rows>();
  for (const r of rows) {
    const dt = r.values.event_time?.slice(0, 10) ?? '';
    offlineByDay.set(dt, [...(offlineByDay.get(dt) ?? []), r]);
  }
  const days: DayReceipt[] = [];
  const latestByCard = new Map<string, Latest>();
  for (const dt of dateRange(request.startDate, request.endDate)) {
    const state = await readDayState(lake, request, dt);
    if (!state.commit || state.commit.rows === 0) continue;
    const gold: GoldRow[] = [];
    for (const f of state.commit.files) gold.push(...(await lake.readParquet(f)));
    const publication = publicationOf(state);
    const online = (publication?.target_stores ?? ['OnlineStore']).includes('OnlineStore');
    for (const row of gold) keepLatest(latestByCard, row, online);
    days.push(
      verifyDay({
        dt,
        commit: state.commit,
        publication,
        gold,
        offline: offlineByDay.get(dt) ?? [],
        featureNames: FEATURES,
      }),
    );
  }
  const online = await verifyOnline(input, latestByCard);
  return {
    feature_group: request.featureGroup,
    feature_version: request.featureVersion,
    start_date: request.startDate,
    end_date: request.endDate,
    verified_at: new Date().toISOString(),
    offline_source: input.offline.describe(),
    days,
    online,
    differences: days.filter((d) => d.problems.length > 0).length + online.differences.length,
  };
}

/**
 * A card's rows at its latest event time. Several events of one card can share it; the online store
 * keeps whichever of them was written last (SageMaker replaces on an equal event time), so any of
 * them is a match.
 */
interface Latest {
  rows: GoldRow[];
  online: boolean;
}

function keepLatest(latest: Map<string, Latest>, row: GoldRow, online: boolean): void {
  const card = String(row.card_id);
  const seen = latest.get(card);
  const t = Number(row.event_time);
  const held = seen ? Number(seen.rows[0].event_time) : -Infinity;
  if (t > held) latest.set(card, { rows: [row], online });
  else if (t === held) seen!.rows.push(row);
}

/** Cards spread evenly over the sorted ids whose latest gold row was published online. */
export function sampleCards(cards: string[], n: number): string[] {
  const sorted = [...cards].sort();
  if (sorted.length <= n) return sorted;
  return Array.from({ length: n }, (_, i) => sorted[Math.floor((i * sorted.length) / n)]);
}

async function verifyOnline(input: VerifyInput, latest: Map<string, Latest>): Promise<OnlineReceipt> {
  const eligible = [...latest.entries()].filter(([, v]) => v.online).map(([card]) => card);
  const sample = sampleCards(eligible, input.sampleCards ?? 20);
  const records = sample.length ? await input.online.records(input.request.featureGroup, sample) : new Map();
  const receipt: OnlineReceipt = { sampled: sample.length, matched: 0, newer: 0, differences: [] };
  for (const card of sample) {
    const rows = latest.get(card)!.rows;
    const wants = rows.map((row) =>
      Object.fromEntries(
        goldRowToRecord(row, input.request.featureVersion).map((f) => [f.FeatureName, f.ValueAsString]),
      ),
    );
    const got = records.get(card);
    if (!got) {
      receipt.differences.push({ card_id: card, problem: 'no online record' });
      continue;
    }
    // A later event of the card, published from a day after the range, is the online store doing its job.
    if (got.event_time > isoEventTime(rows[0].event_time)) receipt.newer++;
    else {
      const same = wants.find((want) => got.event_id === want.event_id) ?? wants[0];
      const diff = recordDifference(got, same, FEATURES);
      if (diff) receipt.differences.push({ card_id: card, problem: diff });
      else receipt.matched++;
    }
  }
  return receipt;
}
