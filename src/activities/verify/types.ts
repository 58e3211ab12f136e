/** `backfill verify`: what the stores are read as, and the receipt it writes. */

/** One record of the offline store: its features as strings (as written) and when it was written. */
export interface OfflineRow {
  values: Record<string, string>;
  /** ISO-8601 UTC. */
  writeTime: string;
}

/** The offline store of a feature group, read for a range of event days. */
export interface OfflineStoreReader {
  /** Every record of the version whose event day (UTC) is in [start, end], every copy. */
  rows(query: {
    featureGroup: string;
    featureVersion: string;
    startDate: string;
    endDate: string;
  }): Promise<OfflineRow[]>;
  /** Where the rows came from, for the receipt (e.g. `sqlite + spark files`, `athena query 1234`). */
  describe(): string;
}

/** The online store: the record held per identifier. */
export interface OnlineStoreReader {
  /** card_id -> the record's features as strings; absent identifiers are left out. */
  records(featureGroup: string, cardIds: string[]): Promise<Map<string, Record<string, string>>>;
}

export interface DayReceipt {
  dt: string;
  gold_rows: number;
  /** The ledger's publication record of the current gold (absent: none). */
  ledger?: {
    status: string;
    records_written: number;
    records_failed: number;
    possible_duplicates: number;
    published_with: string;
    target_stores: string[];
  };
  /** Offline records of the day: every copy, those written since the gold commit, distinct events since. */
  offline: { rows: number; rows_since_commit: number; events_since_commit: number };
  /** Gold events with no offline copy written since the commit. */
  missing: number;
  /** Copies beyond one per event written since the commit, and how many exceed the ledger's possible_duplicates. */
  extra_copies: number;
  duplicates_beyond_bound: number;
  /** Gold events whose latest offline write holds other values than gold. */
  stale: number;
  /** Events written since the commit that are not in the current gold. */
  not_in_gold: number;
  problems: string[];
}

export interface OnlineReceipt {
  sampled: number;
  matched: number;
  /** Cards whose online record is of a later event than the range's gold (published from a later day). */
  newer: number;
  differences: { card_id: string; problem: string }[];
}

export interface VerifyReceipt {
  feature_group: string;
  feature_version: string;
  start_date: string;
  end_date: string;
  verified_at: string;
  offline_source: string;
  days: DayReceipt[];
  online: OnlineReceipt;
  /** Days with a problem plus online differences; 0 means the stores hold what the ledger says. */
  differences: number;
}
