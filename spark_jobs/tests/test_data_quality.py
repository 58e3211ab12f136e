"""Malformed lines are quarantined and counted (never a crash), duplicates count once, missing days are reported."""
import json
import os

from lakeutil import (bronze_dir, ev, features, gold_df, gold_partitions, gold_rows, current_gold_files, read_gold, read_table,
                      run_backfill, write_bronze)

GOOD = ev("g1", "C", "2025-10-01T10:00:00", 12.34, "m_1")

# (line as written, expected reason)
BAD_LINES = [
    ("not json", "not_a_json_object"),
    ('{"event_id": "trunc", "card_id": ', "malformed_json"),
    ('[{"event_id": "in_array"}]', "not_a_json_object"),
    ("null", "not_a_json_object"),
    (json.dumps({k: v for k, v in ev("no_card", "C", "2025-10-01T10:00:00").items() if k != "card_id"}),
     "missing_or_invalid:card_id"),
    (json.dumps({**ev("null_merchant", "C", "2025-10-01T10:00:00"), "merchant_id": None}),
     "missing_or_invalid:merchant_id"),
    (json.dumps({**ev("str_amount", "C", "2025-10-01T10:00:00"), "amount": "12.00"}), "missing_or_invalid:amount"),
    (json.dumps({**ev("float_time", "C", "2025-10-01T10:00:00"), "event_time": 1759312800.5}),
     "missing_or_invalid:event_time"),
    (json.dumps(ev("pending", "C", "2025-10-01T10:00:00", status="PENDING")), "invalid_status"),
    (json.dumps(ev("lower_ccy", "C", "2025-10-01T10:00:00", currency="usd")), "invalid_currency"),
    (json.dumps(ev("too_late", "C", "2025-09-29T10:00:00")), "arrived_after_allowed_lateness"),
    (json.dumps(ev("too_early", "C", "2025-10-02T10:00:00")), "arrived_before_event_date"),
]


def test_malformed_lines_are_quarantined_and_counted(spark, lake):
    valid = [GOOD, ev("g2", "C", "2025-10-01T10:30:00", 1.00, "m_2"), ev("g3", "D", "2025-10-01T11:00:00")]
    lines = valid[:1] + [b for b, _ in BAD_LINES[:6]] + ["", "   "] + valid[1:] + [b for b, _ in BAD_LINES[6:]]
    write_bronze(lake, "2025-10-01", lines)
    write_bronze(lake, "2025-10-02", ["also not json", ev("g4", "C", "2025-10-02T00:10:00")])

    (m,) = run_backfill(spark, lake, "2025-10-01", "2025-10-02", "--chunk-size-days", "2")

    expected_reasons = {}
    for _, reason in BAD_LINES + [("", "not_a_json_object")]:
        expected_reasons[reason] = expected_reasons.get(reason, 0) + 1
    assert m["quarantined_rows"] == len(BAD_LINES) + 1
    assert m["quarantined_rows_per_dt"] == {"2025-10-01": len(BAD_LINES), "2025-10-02": 1}
    assert m["quarantine_reasons"] == dict(sorted(expected_reasons.items()))
    # blank lines are not input; every other line is either valid or quarantined
    assert m["input_rows_per_dt"] == {"2025-10-01": len(valid) + len(BAD_LINES), "2025-10-02": 2}
    assert m["output_rows_per_dt"] == {"2025-10-01": 3, "2025-10-02": 1}

    quarantine = read_table(spark, os.path.join(lake, "quarantine", "card_authorization"))
    assert quarantine == sorted([("2025-10-01", line, reason) for line, reason in BAD_LINES]
                                + [("2025-10-02", "also not json", "not_a_json_object")])

    g = gold_rows(spark, lake, "v1")
    assert sorted(g) == ["g1", "g2", "g3", "g4"]
    assert features(g["g2"]) == (2, 2, 13.34, 2) and features(g["g4"]) == (1, 3, 23.34, 2)


def test_duplicates_count_once_earliest_arrival_wins(spark, lake):
    first = ev("e", "C", "2025-10-01T10:00:00", 5.00, "m_1")
    write_bronze(lake, "2025-10-01", [first, first, ev("other", "C", "2025-10-01T10:10:00", 1.00, "m_2")])
    write_bronze(lake, "2025-10-01", [first], name="part-00001.json.gz")
    # a late, conflicting copy of `e` (different amount) and a late duplicate of `other`
    write_bronze(lake, "2025-10-02", [{**first, "amount": 500.00}, ev("other", "C", "2025-10-01T10:10:00", 1.00, "m_2"),
                                      ev("n", "C", "2025-10-02T09:00:00", 2.00, "m_1"),
                                      ev("n", "C", "2025-10-02T09:00:00", 2.00, "m_1")])

    manifests = run_backfill(spark, lake, "2025-10-01", "2025-10-02")
    assert [m["duplicates_removed"] for m in manifests] == [3 + 1, 1]
    assert [m["output_rows"] for m in manifests] == [2, 1]
    g = gold_rows(spark, lake, "v1")
    assert features(g["e"]) == (1, 1, 5.0, 1)        # the earliest copy, not the late 500.00 one
    assert features(g["other"]) == (2, 2, 6.0, 2)
    assert features(g["n"]) == (1, 3, 8.0, 2)
    silver = read_table(spark, os.path.join(lake, "silver", "card_authorization"))
    assert len(silver) == 3 and sum(1 for r in silver if "e" in r) == 1


def test_copies_that_disagree_on_the_event_date_are_kept_per_date_in_any_chunking(spark, tmp_path):
    """An event_id sent with two different event dates: each date keeps its copy, so 1-day chunks, whose
    chunks never see both copies, write exactly what one pass writes."""
    days = ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04", "2025-10-05"]
    lakes = {}
    for size in ("1", "5"):
        lake = str(tmp_path / f"chunk{size}")
        for i, day in enumerate(days):
            lines = [ev(f"fill{i}", "F", f"{day}T12:00:00", 1.00)]
            if day == "2025-10-01":
                lines.append(ev("x", "C", "2025-10-01T10:00:00", 3.00, "m_1"))
            if day == "2025-10-04":
                # the same event_id, dated three days later and arriving later too
                lines += [ev("x", "C", "2025-10-04T10:00:00", 7.00, "m_2"), ev("y", "C", "2025-10-04T10:30:00", 1.00)]
            write_bronze(lake, day, lines)
        lakes[size] = (lake, run_backfill(spark, lake, days[0], days[-1], "--chunk-size-days", size))

    chunked, single = (read_gold(spark, lakes[s][0]) for s in ("1", "5"))
    assert chunked == single and len(single) > 0, "gold"
    chunked, single = (read_table(spark, os.path.join(lakes[s][0], "silver", "card_authorization")) for s in ("1", "5"))
    assert chunked == single and len(single) > 0, "silver"
    x_rows = {(r["dt"], r["amount_sum_24h"]) for r in gold_df(spark, lakes["5"][0], "v1").where("event_id = 'x'").collect()}
    assert x_rows == {("2025-10-01", 3.0), ("2025-10-04", 7.0)}
    (y,) = gold_df(spark, lakes["5"][0], "v1").where("event_id = 'y'").collect()
    assert features(y.asDict()) == (2, 2, 8.0, 2)
    (single,) = lakes["5"][1]
    assert single["duplicates_removed"] == 0 and single["output_rows"] == 5 + 3


def test_missing_bronze_day_is_a_reported_gap_then_filled(spark, lake):
    write_bronze(lake, "2025-10-01", [ev("a", "C", "2025-10-01T22:00:00", 1.00)])
    # 10-02 exists but holds no data file: still a gap
    os.makedirs(bronze_dir(lake, "2025-10-02"))
    open(os.path.join(bronze_dir(lake, "2025-10-02"), "_SUCCESS"), "w").close()
    # a late event of 10-02, arriving in the 10-03 folder
    write_bronze(lake, "2025-10-03", [ev("late_b", "C", "2025-10-02T23:00:00", 2.00),
                                      ev("c", "C", "2025-10-03T01:00:00", 4.00)])

    m1, m2, m3 = run_backfill(spark, lake, "2025-10-01", "2025-10-03")
    assert [m["coverage_gaps"] for m in (m1, m2, m3)] == [[], ["2025-10-02"], []]
    assert m1["missing_context_partitions"] == ["2025-09-30", "2025-10-02"]
    assert m3["missing_context_partitions"] == ["2025-10-02", "2025-10-04"]
    # the gap day is not written (no silently empty or partial gold), and says so
    assert (m2["processed_partitions"], m2["written_partitions"], m2["output_rows_per_dt"]) == ([], [], {})
    assert gold_partitions(lake, "v1") == ["feature_version=v1/dt=2025-10-01", "feature_version=v1/dt=2025-10-03"]
    # the late 10-02 event still counts in 10-03's lookback
    assert features(gold_rows(spark, lake, "v1")["c"]) == (1, 2, 6.0, 1)

    before = {d: current_gold_files(lake, "v1", d)
              for d in ("2025-10-01", "2025-10-03")}
    write_bronze(lake, "2025-10-02", [ev("b", "C", "2025-10-02T21:30:00", 8.00)])
    again = run_backfill(spark, lake, "2025-10-01", "2025-10-03")
    assert [m["skipped_partitions"] for m in again] == [["2025-10-01"], [], ["2025-10-03"]]
    assert again[1]["coverage_gaps"] == [] and again[1]["written_partitions"] == ["2025-10-02"]
    g = gold_rows(spark, lake, "v1")
    assert features(g["b"]) == (1, 2, 9.0, 1) and features(g["late_b"]) == (1, 2, 10.0, 1)
    for d, files in before.items():
        assert current_gold_files(lake, "v1", d) == files


def test_a_day_of_only_bad_lines_and_a_range_without_bronze(spark, lake):
    write_bronze(lake, "2025-10-01", ["garbage", '{"event_id": "x"}', "[]"])
    (m,) = run_backfill(spark, lake, "2025-10-01", "2025-10-01")
    assert (m["input_rows"], m["quarantined_rows"], m["output_rows"]) == (3, 3, 0)
    assert m["output_rows_per_dt"] == {"2025-10-01": 0} and m["written_partitions"] == []
    assert m["min_event_time"] is None and gold_partitions(lake) == []
    assert len(read_table(spark, os.path.join(lake, "quarantine", "card_authorization"))) == 3

    (m,) = run_backfill(spark, lake, "2025-11-01", "2025-11-02", "--chunk-size-days", "2")
    assert m["coverage_gaps"] == ["2025-11-01", "2025-11-02"] and m["bronze_partitions_read"] == []
    assert m["output_rows"] == 0 and gold_partitions(lake) == []
