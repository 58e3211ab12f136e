"""The job end to end on a hand-written lake: window edges across days, late arrivals, declines.

Bronze (arrival dt folders):
  2025-10-01: a, d1, y1, dup, dup (same-day copy), a non-JSON line, a PENDING line
  2025-10-02: L (event 10-01 23:50, arrived late), b, c, c2, dup (late copy), y2, y3
  2025-10-03: L2 (event 10-02 23:59:59, arrived late), w (10-03, outside the range)
The range is 2025-10-01..2025-10-02; chunk 10-01 needs the 10-02 folder for L, chunk 10-02 needs
the 10-01 folder for its lookback and the 10-03 folder for L2.
"""
import json
import os

import pytest

from card_features import job
from card_features.definitions import get_definition
from lakeutil import current_gold_dirs, ev, features, gold_partitions, gold_rows, run_backfill, write_bronze

BRONZE = {
    "2025-10-01": [
        ev("a", "X", "2025-10-01T23:30:00", 10.00, "m_a"),
        ev("d1", "Y", "2025-10-01T12:00:00", 5.00, "m_d", status="DECLINED"),
        ev("y1", "Y", "2025-10-01T12:00:00", 7.00, "m_e"),
        ev("dup", "Z", "2025-10-01T08:00:00", 3.00, "m_z"),
        ev("dup", "Z", "2025-10-01T08:00:00", 3.00, "m_z"),
        "this is not json",
        json.dumps(ev("pending", "Z", "2025-10-01T09:00:00", status="PENDING")),
    ],
    "2025-10-02": [
        ev("L", "X", "2025-10-01T23:50:00", 20.00, "m_b"),
        ev("b", "X", "2025-10-02T00:10:00", 30.00, "m_a"),
        ev("c", "X", "2025-10-02T00:30:00", 40.00, "m_c"),    # exactly 3600 s after a
        ev("c2", "X", "2025-10-02T00:30:01", 1.00, "m_c"),    # 3601 s after a
        ev("dup", "Z", "2025-10-01T08:00:00", 3.00, "m_z"),
        ev("y2", "Y", "2025-10-02T12:00:00", 1.00, "m_e"),    # exactly 86400 s after d1, y1
        ev("y3", "Y", "2025-10-02T12:00:01", 2.00, "m_f"),    # 86401 s after d1, y1
    ],
    "2025-10-03": [
        ev("L2", "X", "2025-10-02T23:59:59", 5.00, "m_a"),
        ev("w", "W", "2025-10-03T01:00:00", 9.00, "m_w"),
    ],
}

# event_id -> (dt, v1 features, v2 features); features are (count_1h, count_24h, amount_sum_24h, merchants_24h)
EXPECTED = {
    "a": ("2025-10-01", (1, 1, 10.0, 1), (1, 1, 10.0, 1)),
    "L": ("2025-10-01", (2, 2, 30.0, 2), (2, 2, 30.0, 2)),
    "d1": ("2025-10-01", (2, 2, 12.0, 2), (1, 1, 7.0, 1)),
    "y1": ("2025-10-01", (2, 2, 12.0, 2), (1, 1, 7.0, 1)),
    "dup": ("2025-10-01", (1, 1, 3.0, 1), (1, 1, 3.0, 1)),
    "b": ("2025-10-02", (3, 3, 60.0, 2), (3, 3, 60.0, 2)),
    "c": ("2025-10-02", (4, 4, 100.0, 3), (4, 4, 100.0, 3)),
    "c2": ("2025-10-02", (4, 5, 101.0, 3), (4, 5, 101.0, 3)),
    "y2": ("2025-10-02", (1, 3, 13.0, 2), (1, 2, 8.0, 1)),
    "y3": ("2025-10-02", (2, 2, 3.0, 2), (2, 2, 3.0, 2)),
    "L2": ("2025-10-02", (1, 4, 76.0, 2), (1, 4, 76.0, 2)),
}


def make_lake(root):
    for day, lines in BRONZE.items():
        write_bronze(root, day, lines)
    return root


@pytest.fixture(scope="module")
def edge_lake(spark, tmp_path_factory):
    """The lake after a v1 run (1-day chunks, via main() in-process) and a v2 run (one 2-day chunk)."""
    root = make_lake(str(tmp_path_factory.mktemp("edges")))
    argv = ["--bucket", root, "--start-date", "2025-10-01", "--end-date", "2025-10-02",
            "--feature-version", "v1", "--code-revision", "abc123"]
    assert job.main(argv, spark=spark) == 0
    assert spark.range(3).count() == 3  # main() left the shared session running
    v2 = run_backfill(spark, root, "2025-10-01", "2025-10-02", "--chunk-size-days", "2", version="v2")
    return root, v2


def read_manifest(root, version, start, end):
    path = os.path.join(root, "_manifests", "card_features", f"feature_version={version}", f"chunk={start}_{end}.json")
    with open(path) as f:
        return json.load(f)


@pytest.mark.parametrize("version,col", [("v1", 1), ("v2", 2)])
def test_gold_values_by_hand(spark, edge_lake, version, col):
    root, _ = edge_lake
    got = gold_rows(spark, root, version)
    assert {k: (r["dt"], features(r)) for k, r in got.items()} == {k: (e[0], e[col]) for k, e in EXPECTED.items()}
    assert gold_partitions(root) == [f"feature_version={v}/dt=2025-10-0{d}" for v in ("v1", "v2") for d in (1, 2)]


def test_gold_schema(spark, edge_lake):
    root, _ = edge_lake
    fields = {f.name: f.dataType.simpleString() for f in spark.read.parquet(
        current_gold_dirs(root, "v1")["feature_version=v1/dt=2025-10-01"]).schema}
    assert fields == {"card_id": "string", "event_id": "string", "event_time": "bigint", "txn_count_1h": "int",
                      "txn_count_24h": "int", "amount_sum_24h": "double", "merchant_count_24h": "int"}


def test_v1_manifests(edge_lake):
    root, _ = edge_lake
    m1 = read_manifest(root, "v1", "2025-10-01", "2025-10-01")
    assert m1["bronze_partitions_read"] == ["2025-10-01", "2025-10-02"]
    assert m1["missing_context_partitions"] == ["2025-09-30"]
    assert m1["coverage_gaps"] == [] and m1["skipped_partitions"] == []
    assert m1["input_rows"] == 7 and m1["input_rows_per_dt"] == {"2025-10-01": 7}
    assert m1["rows_read"] == 7 + 7
    assert m1["quarantined_rows"] == 2 and m1["quarantined_rows_per_dt"] == {"2025-10-01": 2}
    assert m1["quarantine_reasons"] == {"invalid_status": 1, "not_a_json_object": 1}
    assert m1["duplicates_removed"] == 2  # three copies of `dup`, one of them a late delivery
    assert m1["output_rows_per_dt"] == {"2025-10-01": 5} and m1["output_rows"] == 5
    assert m1["written_partitions"] == ["2025-10-01"]
    assert m1["min_event_time"] == 1759305600 and m1["max_event_time"] == 1759362600  # 08:00, 23:50
    assert m1["feature_definition"]["fingerprint"] == get_definition("v1").fingerprint
    assert m1["code_revision"].startswith("abc123+")

    m2 = read_manifest(root, "v1", "2025-10-02", "2025-10-02")
    assert m2["bronze_partitions_read"] == ["2025-10-01", "2025-10-02", "2025-10-03"]
    assert m2["missing_context_partitions"] == []
    assert (m2["input_rows"], m2["quarantined_rows"], m2["duplicates_removed"]) == (7, 0, 0)
    assert m2["output_rows_per_dt"] == {"2025-10-02": 6}
    assert m2["code_revision"] == m1["code_revision"]


def test_one_chunk_manifest_equals_sum_of_daily_ones(edge_lake):
    root, v2 = edge_lake
    (m,) = v2
    assert m["manifest_path"].endswith("feature_version=v2/chunk=2025-10-01_2025-10-02.json")
    assert m["output_rows_per_dt"] == {"2025-10-01": 5, "2025-10-02": 6}
    assert (m["input_rows"], m["quarantined_rows"], m["duplicates_removed"]) == (14, 2, 2)
    assert m["feature_definition"]["fingerprint"] == get_definition("v2").fingerprint


def test_chunk_size_does_not_change_gold(spark, tmp_path):
    root = make_lake(str(tmp_path))
    run_backfill(spark, root, "2025-10-01", "2025-10-02", "--chunk-size-days", "2")
    got = gold_rows(spark, root, "v1")
    assert {k: (r["dt"], features(r)) for k, r in got.items()} == {k: (e[0], e[1]) for k, e in EXPECTED.items()}
