"""`backfill diff`'s Spark job: compares two sides of committed gold, event by event.

The CLI resolves each side (a version's current gold, or the gold an overwrite replaced) to its
data files per day from the ledger, writes them as a spec (JSON) and runs this job through the same
entry point as the feature job (`backfill_features.py diff --spec URI --output URI`), locally with
spark-submit or on EMR Serverless. Side `a` is the base, side `b` the candidate.

Per day: rows on each side, events only on one side, events on both. Per day and feature: events on
both whose value differs (`changed`, exact comparison, null-safe), and count, mean, p50, p95 and max
of side a's values, side b's values, and the absolute change |b - a| over the events on both.
Percentiles are exact (Spark's `percentile`: linear interpolation at position p * (n - 1)). Then
the same over the whole range, and the cards with most changed events.
"""
import argparse
import json
from typing import Dict, List, Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .lake_fs import LakeFs

STATS = ("count", "mean", "p50", "p95", "max")
DAY_PATTERN = r"dt=(\d{4}-\d{2}-\d{2})"


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="backfill_features.py diff")
    parser.add_argument("--spec", required=True, help="JSON: features, top_cards, sides a and b (days -> files)")
    parser.add_argument("--output", required=True, help="where the result JSON is written")
    return parser.parse_args(argv)


def side_frame(spark: SparkSession, side: Dict, features: List[str]) -> DataFrame:
    """One side's events: dt (from the file's path), event_id, card_id and the features."""
    files = [f for day_files in side["days"].values() for f in day_files]
    cols = ["dt", "event_id", "card_id", *features]
    if not files:
        schema = ", ".join(["dt string", "event_id string", "card_id string"] + [f"{c} double" for c in features])
        return spark.createDataFrame([], schema).select(*cols)
    df = spark.read.parquet(*files)
    return df.withColumn("dt", F.regexp_extract(F.input_file_name(), DAY_PATTERN, 1)).select(*cols)


def joined(a: DataFrame, b: DataFrame, features: List[str]) -> DataFrame:
    """Events of both sides on (dt, event_id): a_x and b_x columns, `in_a`/`in_b` flags, |b - a| per feature."""
    def prefixed(df: DataFrame, p: str) -> DataFrame:
        return df.select("dt", "event_id", F.lit(True).alias(f"in_{p}"),
                         *[F.col(c).alias(f"{p}_{c}") for c in ["card_id", *features]])

    j = prefixed(a, "a").join(prefixed(b, "b"), ["dt", "event_id"], "full_outer")
    j = j.withColumn("in_a", F.coalesce("in_a", F.lit(False))).withColumn("in_b", F.coalesce("in_b", F.lit(False)))
    j = j.withColumn("card_id", F.coalesce("b_card_id", "a_card_id"))
    both = F.col("in_a") & F.col("in_b")
    for c in features:
        j = j.withColumn(f"d_{c}", F.when(both, F.abs(F.col(f"b_{c}").cast("double") - F.col(f"a_{c}").cast("double"))))
        j = j.withColumn(f"ch_{c}", both & ~F.col(f"a_{c}").eqNullSafe(F.col(f"b_{c}")))
    return j


def _stat_exprs(col: str, name: str) -> List:
    x = F.col(col).cast("double")
    return [F.count(x).alias(f"{name}__count"), F.avg(x).alias(f"{name}__mean"),
            F.expr(f"percentile(CAST({col} AS DOUBLE), array(0.5, 0.95))").alias(f"{name}__pct"),
            F.max(x).alias(f"{name}__max")]


def aggregate_exprs(features: List[str]) -> List:
    exprs = [F.sum(F.col("in_a").cast("long")).alias("rows_a"), F.sum(F.col("in_b").cast("long")).alias("rows_b"),
             F.sum((F.col("in_a") & ~F.col("in_b")).cast("long")).alias("only_a"),
             F.sum((F.col("in_b") & ~F.col("in_a")).cast("long")).alias("only_b"),
             F.sum((F.col("in_a") & F.col("in_b")).cast("long")).alias("both")]
    for c in features:
        exprs.append(F.sum(F.col(f"ch_{c}").cast("long")).alias(f"{c}__changed"))
        exprs += _stat_exprs(f"a_{c}", f"{c}__a") + _stat_exprs(f"b_{c}", f"{c}__b") + _stat_exprs(f"d_{c}", f"{c}__change")
    return exprs


def _stats(row: Dict, name: str) -> Dict:
    pct = row.get(f"{name}__pct") or [None, None]
    return {"count": int(row.get(f"{name}__count") or 0), "mean": row.get(f"{name}__mean"),
            "p50": pct[0], "p95": pct[1], "max": row.get(f"{name}__max")}


def summary(row: Dict, features: List[str]) -> Dict:
    """A row of the aggregation as the result JSON's figures."""
    both = int(row.get("both") or 0)
    out = {k: int(row.get(k) or 0) for k in ("rows_a", "rows_b", "only_a", "only_b", "both")}
    out["features"] = {}
    for c in features:
        changed = int(row.get(f"{c}__changed") or 0)
        out["features"][c] = {"changed": changed, "changed_share": (changed / both) if both else 0.0,
                              "a": _stats(row, f"{c}__a"), "b": _stats(row, f"{c}__b"),
                              "change": _stats(row, f"{c}__change")}
    return out


def top_cards(j: DataFrame, features: List[str], limit: int) -> List[Dict]:
    """Cards with the most events whose value changed (any feature), then most one-sided events."""
    any_changed = F.lit(False)
    for c in features:
        any_changed = any_changed | F.col(f"ch_{c}")
    rows = (j.groupBy("card_id")
            .agg(F.sum(any_changed.cast("long")).alias("changed_events"),
                 F.sum((F.col("in_a") & F.col("in_b")).cast("long")).alias("both"),
                 F.sum((F.col("in_a") != F.col("in_b")).cast("long")).alias("one_sided"),
                 *[F.max(f"d_{c}").alias(f"max_change__{c}") for c in features])
            .where("changed_events > 0 OR one_sided > 0")
            .orderBy(F.desc("changed_events"), F.desc("one_sided"), "card_id")
            .limit(limit).collect())
    return [{"card_id": r["card_id"], "changed_events": int(r["changed_events"]), "both": int(r["both"]),
             "one_sided": int(r["one_sided"]),
             "max_change": {c: r[f"max_change__{c}"] for c in features}} for r in rows]


def compute(spark: SparkSession, spec: Dict) -> Dict:
    features = spec["features"]
    j = joined(side_frame(spark, spec["a"], features), side_frame(spark, spec["b"], features), features)
    j = j.cache()
    exprs = aggregate_exprs(features)
    by_day = {r["dt"]: summary(r.asDict(), features) for r in j.groupBy("dt").agg(*exprs).collect()}
    total = summary(j.agg(*exprs).collect()[0].asDict(), features)
    days = sorted(set(spec["a"]["days"]) | set(spec["b"]["days"]) | set(by_day))
    # A day listed in the spec with no gold on either side still gets its (zero) line.
    result = {"features": features, "days": [{"dt": d, **(by_day.get(d) or summary({}, features))} for d in days],
              "total": total, "top_cards": top_cards(j, features, int(spec.get("top_cards", 10)))}
    j.unpersist()
    return result


def main(argv: List[str], spark: Optional[SparkSession] = None) -> int:
    args = parse_args(argv)
    own = spark is None
    if own:
        spark = SparkSession.builder.appName("backfill_diff").getOrCreate()
    try:
        fs = LakeFs(spark)
        text = fs.read_text(args.spec)
        if text is None:
            raise SystemExit(f"card_features error: diff spec {args.spec} does not exist")
        result = compute(spark, json.loads(text))
        fs.write_text(args.output, json.dumps(result, indent=1, sort_keys=True))
    finally:
        if own:
            spark.stop()
    return 0
