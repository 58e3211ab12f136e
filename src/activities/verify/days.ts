/**
 * One day of `backfill verify`: the ledger's publication record of the current gold against the
 * offline store's records of that day. Records written since the gold commit are this gold's
 * publication (gold is committed before it is published); earlier ones are history an overwrite
 * left in the append-only offline store, and only their latest write is held against gold.
 */
import type { GoldCommit, Publication } from '../ledger/records';
import { goldRowToRecord } from '../feature-records';
import type { DayReceipt, OfflineRow } from './types';

/** Feature values of a record compared as numbers where both parse, else as strings. */
export function sameValue(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const x = Number(a);
  const y = Number(b);
  return a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && x === y;
}

export function recordDifference(
  a: Record<string, string>,
  b: Record<string, string>,
  names: string[],
): string | undefined {
  const differs = names.find((n) => !sameValue(a[n], b[n]));
  return differs === undefined ? undefined : `${differs} ${a[differs] ?? '(none)'} != ${b[differs] ?? '(none)'}`;
}

export interface DayInput {
  dt: string;
  commit: GoldCommit;
  publication?: Publication;
  gold: Record<string, unknown>[];
  offline: OfflineRow[];
  featureNames: string[];
}

export function verifyDay({ dt, commit, publication, gold, offline, featureNames }: DayInput): DayReceipt {
  const since = Date.parse(commit.committed_at);
  const byEvent = new Map<string, OfflineRow[]>();
  for (const row of offline) {
    const list = byEvent.get(row.values.event_id) ?? [];
    list.push(row);
    byEvent.set(row.values.event_id, list);
  }
  const fresh = offline.filter((r) => Date.parse(r.writeTime) >= since);
  const freshCount = new Map<string, number>();
  for (const r of fresh) freshCount.set(r.values.event_id, (freshCount.get(r.values.event_id) ?? 0) + 1);
  const goldIds = new Set<string>();
  let missing = 0;
  let stale = 0;
  for (const row of gold) {
    const record = Object.fromEntries(
      goldRowToRecord(row, commit.feature_version).map((f) => [f.FeatureName, f.ValueAsString]),
    );
    goldIds.add(record.event_id);
    if (!freshCount.has(record.event_id)) missing++;
    const copies = byEvent.get(record.event_id) ?? [];
    const latest = copies.reduce<OfflineRow | undefined>(
      (l, r) => (!l || r.writeTime > l.writeTime ? r : l),
      undefined,
    );
    if (latest && recordDifference(latest.values, record, featureNames)) stale++;
  }
  const extra = [...freshCount.values()].reduce((s, n) => s + n - 1, 0);
  const bound = publication?.possible_duplicates ?? 0;
  const notInGold = [...freshCount.keys()].filter((id) => !goldIds.has(id)).length;
  const receipt: DayReceipt = {
    dt,
    gold_rows: gold.length,
    ledger: publication && {
      status: publication.status,
      records_written: publication.records_written,
      records_failed: publication.records_failed,
      possible_duplicates: publication.possible_duplicates,
      published_with: publication.published_with ?? 'api',
      target_stores: publication.target_stores ?? ['OnlineStore', 'OfflineStore'],
    },
    offline: { rows: offline.length, rows_since_commit: fresh.length, events_since_commit: freshCount.size },
    missing,
    extra_copies: extra,
    duplicates_beyond_bound: Math.max(0, extra - bound),
    stale,
    not_in_gold: notInGold,
    problems: [],
  };
  receipt.problems = problemsOf(receipt, commit);
  return receipt;
}

function problemsOf(r: DayReceipt, commit: GoldCommit): string[] {
  const p: string[] = [];
  if (!r.ledger) return r.gold_rows > 0 ? ['no publication record of the current gold in the ledger'] : [];
  if (r.ledger.status !== 'done') p.push(`publication ${r.ledger.status} in the ledger`);
  if (r.ledger.records_written + r.ledger.records_failed !== commit.rows)
    p.push(
      `ledger has ${r.ledger.records_written} written + ${r.ledger.records_failed} failed for ${commit.rows} gold rows`,
    );
  if (!r.ledger.target_stores.includes('OfflineStore')) return p;
  if (r.missing > 0) p.push(`${r.missing} gold events missing from the offline store`);
  if (r.duplicates_beyond_bound > 0)
    p.push(
      `${r.extra_copies} extra copies, ${r.duplicates_beyond_bound} beyond the ledger's bound of ${r.ledger.possible_duplicates}`,
    );
  if (r.stale > 0) p.push(`${r.stale} events whose latest offline write differs from gold`);
  if (r.not_in_gold > 0) p.push(`${r.not_in_gold} events written since the commit are not in gold`);
  if (r.ledger.records_written !== r.offline.events_since_commit)
    p.push(
      `ledger says ${r.ledger.records_written} written, the offline store holds ${r.offline.events_since_commit} events since the commit`,
    );
  return p;
}
