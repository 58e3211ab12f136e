"""Skip vs overwrite: existing (version, dt) partitions are kept and reported, or replaced exactly."""
import os
import shutil

import pytest
from card_features.lake_fs import LakeFs
from lakeutil import (commit, current_gold_files, ev, features, gold_partitions, gold_rows, read_gold, read_table, run_backfill,
                      write_bronze)

DAYS = ("2025-10-01", "2025-10-02", "2025-10-03")


def base_bronze(lake):
    for i, day in enumerate(DAYS):
        write_bronze(lake, day, [ev(f"e{i}a", "C", f"{day}T10:00:00", 1.00 + i, "m_1"),
                                 ev(f"e{i}b", "C", f"{day}T10:30:00", 2.00, "m_2"),
                                 ev(f"e{i}c", "D", f"{day}T23:00:00", 3.00, "m_1", status="DECLINED")])


def files(lake, version, day):
    return current_gold_files(lake, version, day)


def snapshot(lake, versions=("v1", "v2")):
    return {(v, d): files(lake, v, d) for v in versions for d in DAYS}


def gold_table(spark, lake):
    return read_gold(spark, lake)


def test_without_overwrite_existing_partitions_are_skipped_and_missing_ones_filled(spark, lake):
    base_bronze(lake)
    (m,) = run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3")
    assert m["written_partitions"] == list(DAYS)
    rows, before = gold_table(spark, lake), snapshot(lake, ("v1",))

    # new bronze for 10-02: a plain rerun must not pick it up, nor rewrite anything
    write_bronze(lake, DAYS[1], [ev("new", "C", f"{DAYS[1]}T10:15:00", 50.00)], name="part-00001.json.gz")
    (m,) = run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3")
    assert m["skipped_partitions"] == list(DAYS)
    assert (m["processed_partitions"], m["written_partitions"], m["output_rows_per_dt"]) == ([], [], {})
    assert m["bronze_partitions_read"] == [] and m["input_rows"] == 0
    assert gold_table(spark, lake) == rows and snapshot(lake, ("v1",)) == before

    # a missing partition is filled (from the same bronze as before); the others stay as they were
    os.remove(os.path.join(lake, "bronze", "streaming", "card_authorization", f"dt={DAYS[1]}", "part-00001.json.gz"))
    shutil.rmtree(os.path.join(lake, "gold", "card_features", "feature_version=v1", f"dt={DAYS[2]}"))
    os.remove(os.path.join(lake, "_ledger", "gold", "card_features", "feature_version=v1", f"dt={DAYS[2]}.json"))
    (m,) = run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3")
    assert m["skipped_partitions"] == list(DAYS[:2]) and m["written_partitions"] == [DAYS[2]]
    assert m["overwritten_partitions"] == []
    assert gold_table(spark, lake) == rows
    after = snapshot(lake, ("v1",))
    assert after[("v1", DAYS[0])] == before[("v1", DAYS[0])] and after[("v1", DAYS[1])] == before[("v1", DAYS[1])]


def test_overwrite_replaces_exactly_its_partitions_and_reruns_are_idempotent(spark, lake):
    base_bronze(lake)
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3", version="v1")
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3", version="v2")
    before = snapshot(lake)
    assert features(gold_rows(spark, lake, "v1")["e1b"]) == (2, 3, 6.0, 2)

    write_bronze(lake, DAYS[1], [ev("new", "C", f"{DAYS[1]}T10:15:00", 50.00, "m_3")], name="part-00001.json.gz")
    (m,) = run_backfill(spark, lake, DAYS[1], DAYS[1], "--overwrite")
    assert m["overwritten_partitions"] == [DAYS[1]] and m["written_partitions"] == [DAYS[1]]
    assert m["skipped_partitions"] == []
    g = gold_rows(spark, lake, "v1")
    assert features(g["new"]) == (2, 3, 54.0, 3) and features(g["e1b"]) == (3, 4, 56.0, 3)
    after = snapshot(lake)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {("v1", DAYS[1])}, changed

    # the same overwrite again: same rows, nothing duplicated, only that partition rewritten
    rows = gold_table(spark, lake)
    run_backfill(spark, lake, DAYS[1], DAYS[1], "--overwrite")
    assert gold_table(spark, lake) == rows
    assert len(files(lake, "v1", DAYS[1])) == 1

    # a full-range overwrite run twice leaves the same data
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--overwrite", "--chunk-size-days", "2")
    first = gold_table(spark, lake)
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--overwrite")
    assert gold_table(spark, lake) == first
    assert {k[1]: v for k, v in snapshot(lake).items() if k[0] == "v2"} == \
        {k[1]: v for k, v in before.items() if k[0] == "v2"}
    silver = spark.read.parquet(os.path.join(lake, "silver", "card_authorization"))
    assert silver.count() == 10 and silver.select("event_id").distinct().count() == 10


def test_overwrite_of_a_day_that_no_longer_has_events_removes_its_rows(spark, lake):
    base_bronze(lake)
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3", version="v1")
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3", version="v2")
    v2_before = {d: files(lake, "v2", d) for d in DAYS}

    write_bronze(lake, DAYS[1], ["garbage", '{"event_id": "x"}'])  # replaces the day's only file
    (m,) = run_backfill(spark, lake, DAYS[1], DAYS[1], "--overwrite")
    assert m["output_rows_per_dt"] == {DAYS[1]: 0} and m["written_partitions"] == []
    assert m["deleted_partitions"] == [DAYS[1]] and m["quarantined_rows"] == 2
    assert gold_partitions(lake, "v1") == [f"feature_version=v1/dt={d}" for d in (DAYS[0], DAYS[2])]
    assert not os.path.exists(os.path.join(lake, "silver", "card_authorization", f"dt={DAYS[1]}"))
    assert {d: files(lake, "v2", d) for d in DAYS} == v2_before


def test_overwrite_is_safe_even_if_the_session_says_static(spark, lake):
    """Each write asks for dynamic partition overwrite itself; static mode would wipe the whole table."""
    base_bronze(lake)
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3")
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3", version="v2")
    before = snapshot(lake)
    key = "spark.sql.sources.partitionOverwriteMode"
    saved = spark.conf.get(key)
    spark.conf.set(key, "static")
    try:
        run_backfill(spark, lake, DAYS[1], DAYS[1], "--overwrite")
    finally:
        spark.conf.set(key, saved)
    after = snapshot(lake)
    assert {k for k in before if before[k] != after[k]} == {("v1", DAYS[1])}
    assert len(read_table(spark, os.path.join(lake, "silver", "card_authorization"))) == 9


def test_a_run_that_dies_before_its_commit_leaves_the_old_gold_current(spark, lake, monkeypatch):
    """New gold goes to its own location; until the ledger commits it, readers keep the old day."""
    base_bronze(lake)
    run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3")
    rows, old = read_gold(spark, lake), commit(lake, "v1", DAYS[1])
    write_bronze(lake, DAYS[1], [ev("new", "C", f"{DAYS[1]}T10:15:00", 50.00)], name="part-00001.json.gz")

    def die(*_args, **_kwargs):
        raise RuntimeError("driver lost after writing the data files")

    # The driver dies at the ledger write, the data files written: injected at the job's file system.
    monkeypatch.setattr(LakeFs, "write_text_if", die)
    with pytest.raises(RuntimeError, match="driver lost"):
        run_backfill(spark, lake, DAYS[1], DAYS[1], "--overwrite", "--run-id", "r2")
    new_files = os.path.join(lake, "gold", "card_features", "feature_version=v1", f"dt={DAYS[1]}", "run=r2")
    assert os.listdir(new_files), "the new gold was written"
    assert commit(lake, "v1", DAYS[1]) == old and read_gold(spark, lake) == rows

    monkeypatch.undo()
    (m,) = run_backfill(spark, lake, DAYS[1], DAYS[1], "--overwrite", "--run-id", "r2")
    assert commit(lake, "v1", DAYS[1])["location"].endswith("/run=r2")
    assert commit(lake, "v1", DAYS[1])["previous_location"] == old["location"]
    assert "new" in gold_rows(spark, lake, "v1") and m["overwritten_partitions"] == [DAYS[1]]
