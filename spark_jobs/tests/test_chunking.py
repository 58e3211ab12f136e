"""A chunked backfill equals one pass over the range, and both equal a brute-force reference.

Two weeks of generated data (scripts/generate_sample_data.py: bursts, equal timestamps, late
arrivals, duplicate deliveries, malformed lines), dense enough that windows overlap chunk edges.
"""
import datetime as dt
import os
import shutil

import pytest

import reference
from generate_sample_data import write_lake
from lakeutil import gold_df, read_gold, read_table, run_backfill

START, END = "2025-10-01", "2025-10-14"
SUM_FIELDS = ("input_rows", "quarantined_rows", "duplicates_removed", "output_rows")


@pytest.fixture(scope="module")
def bronze_template(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("template"))
    written = write_lake(root, dt.date(2025, 10, 1), days=14, events_per_day=300, cards=40, seed=11)
    assert "2025-10-15" in written  # late arrivals of the last day
    return root


def lake_from(template: str, tmp_path_factory, name: str) -> str:
    root = str(tmp_path_factory.mktemp(name))
    shutil.copytree(os.path.join(template, "bronze"), os.path.join(root, "bronze"))
    return root


@pytest.fixture(scope="module")
def runs(spark, bronze_template, tmp_path_factory):
    """chunk size -> (lake, manifests) for v1 with 1-day chunks, 7-day chunks and one pass."""
    out = {}
    for size in (1, 7, 14):
        root = lake_from(bronze_template, tmp_path_factory, f"chunk{size}")
        out[size] = (root, run_backfill(spark, root, START, END, "--chunk-size-days", str(size)))
    return out


def tables(spark, root):
    return {"gold": read_gold(spark, root), **{name: read_table(spark, os.path.join(root, *parts)) for name, parts in {
        "silver": ("silver", "card_authorization"), "quarantine": ("quarantine", "card_authorization")}.items()}}


def test_chunk_counts(runs):
    assert [len(runs[size][1]) for size in (1, 7, 14)] == [14, 2, 1]


@pytest.mark.parametrize("size", [1, 7])
def test_chunked_equals_single_pass(spark, runs, size):
    single, chunked = tables(spark, runs[14][0]), tables(spark, runs[size][0])
    for name in ("gold", "silver", "quarantine"):
        assert len(chunked[name]) == len(single[name]), name
        assert chunked[name] == single[name], name


@pytest.mark.parametrize("size", [1, 7])
def test_manifest_counts_add_up_across_chunks(runs, size):
    (single,) = runs[14][1]
    for field in SUM_FIELDS:
        assert sum(m[field] for m in runs[size][1]) == single[field], field
    per_dt = {d: n for m in runs[size][1] for d, n in m["output_rows_per_dt"].items()}
    assert per_dt == single["output_rows_per_dt"]
    assert min(m["min_event_time"] for m in runs[size][1]) == single["min_event_time"]
    assert max(m["max_event_time"] for m in runs[size][1]) == single["max_event_time"]


def test_data_is_dense_enough_to_cross_chunk_edges(spark, runs):
    root, (m,) = runs[14]
    assert m["duplicates_removed"] > 0 and m["quarantined_rows"] == 14 * 3
    gold = gold_df(spark, root)
    first_hour = gold.where("event_time % 86400 < 3600")
    # events just after midnight whose 1 h window reaches into the previous day
    assert first_hour.where("txn_count_1h >= 2").count() > 0
    assert gold.where("txn_count_24h >= 8").count() > 100


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_single_pass_equals_reference(spark, runs, bronze_template, tmp_path_factory, version):
    if version == "v1":
        root = runs[14][0]
    else:
        root = lake_from(bronze_template, tmp_path_factory, "v2")
        run_backfill(spark, root, START, END, "--chunk-size-days", "14", version="v2")
    got = {(r["event_id"], r["dt"]): (r["dt"], r["card_id"], r["event_time"], r["txn_count_1h"], r["txn_count_24h"],
                           r["amount_sum_24h"], r["merchant_count_24h"])
           for r in gold_df(spark, root, version).collect()}
    expected = reference.gold(reference.silver(reference.read_bronze(bronze_template)), version, START, END)
    assert len(got) == len(expected)
    diff = {k: (got.get(k), expected.get(k)) for k in set(got) | set(expected) if got.get(k) != expected.get(k)}
    assert not diff, list(diff.items())[:5]
