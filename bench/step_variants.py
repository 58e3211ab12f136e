"""Variants of the job's steps timed by step_bench.py (#22): the job's own, and the parts it is made of.

Add a candidate next to the job's entry to compare it on the same cached input (step_bench checks
that its rows equal the first entry's, by count and checksum, where they should).
"""
from pyspark.sql import functions as F
from pyspark.sql import types as T

from card_features import transform
from card_features.transform import _DEDUP_ORDER


def _valid(parsed):
    """What the dedup reads: the valid rows, typed as silver, before any ordering."""
    return parsed.where(F.col("reason").isNull()).select(
        "event_id", F.col("event_dt").alias("dt"),
        *[F.col(c).cast(T.DecimalType(18, 2)).alias(c) if c == "amount" else F.col(c) for c in _DEDUP_ORDER])


PARSE = {
    "read and spread only": lambda raw, lateness: raw.select("value", "dt"),
    "+ from_json only": lambda raw, lateness: raw.select(
        "dt", F.from_json("value", transform._PARSE_SCHEMA, {"mode": "PERMISSIVE"}).alias("j")).select("dt", "j.*"),
    "job (parse_bronze)": transform.parse_bronze,
    "job + line counts": lambda raw, lateness: transform.line_counts(transform.parse_bronze(raw, lateness)),
}

DEDUP = {
    "shuffle only (in-scope rows by event_id)": _valid,
    "job": transform.deduplicate,
}

FEATURES = {"job": transform.gold_for_days}
