/** The figures of `backfill diff`, as spark_jobs/card_features/diff_job.py writes them. */

/** count, mean, p50, p95 and max of a set of values (exact percentiles, linear interpolation). */
export interface Distribution {
  count: number;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface FeatureDiff {
  /** Events on both sides whose value differs. */
  changed: number;
  /** changed / events on both sides (0 when none are on both). */
  changed_share: number;
  /** Side a's values (every event of side a), side b's, and |b - a| over the events on both. */
  a: Distribution;
  b: Distribution;
  change: Distribution;
}

export interface DiffFigures {
  rows_a: number;
  rows_b: number;
  only_a: number;
  only_b: number;
  both: number;
  features: Record<string, FeatureDiff>;
}

export interface CardChange {
  card_id: string;
  changed_events: number;
  both: number;
  one_sided: number;
  max_change: Record<string, number | null>;
}

/** What the Spark job computes. */
export interface DiffComputation {
  features: string[];
  days: (DiffFigures & { dt: string })[];
  total: DiffFigures;
  top_cards: CardChange[];
}

/** The JSON report: the computation plus what was compared and the gate's verdict. */
export interface DiffReport extends DiffComputation {
  a: { label: string; missing: { dt: string; reason: string }[] };
  b: { label: string; missing: { dt: string; reason: string }[] };
  startDate: string;
  endDate: string;
  gate: GateVerdict;
}

export interface GateVerdict {
  /** Largest changed share allowed per feature (range totals); absent: not gated. */
  limits: Record<string, number>;
  exceeded: { feature: string; changed_share: number; limit: number }[];
}

/** Features whose changed share over the range exceeds their limit (`*` applies to every feature). */
export function gate(total: DiffFigures, limits: Record<string, number>): GateVerdict {
  const exceeded: GateVerdict['exceeded'] = [];
  for (const [feature, figures] of Object.entries(total.features)) {
    const limit = limits[feature] ?? limits['*'];
    if (limit !== undefined && figures.changed_share > limit)
      exceeded.push({ feature, changed_share: figures.changed_share, limit });
  }
  return { limits, exceeded };
}
