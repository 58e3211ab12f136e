"""Offline publication from the job: each day written once into the offline store's layout and
recorded in the publication ledger; a job that dies midway is redone from the ledger without
duplicating or losing a record."""
import glob
import json
import os

import pytest
from lakeutil import ev, run_backfill, write_bronze

DAYS = ("2025-10-01", "2025-10-02", "2025-10-03")
GROUP = "rt_card_features_v1"
RUN = "run-a"


def bronze(lake):
    for i, day in enumerate(DAYS):
        write_bronze(lake, day, [ev(f"e{i}-{h}-{c}", f"C{c}", f"{day}T{h:02d}:{10 + c}:00", 1.0 + c)
                                 for h in (1, 9, 17) for c in range(4)])


def store_root(lake):
    return os.path.join(lake, "_feature_store", "offline-store", GROUP)


def store_files(lake):
    return sorted(glob.glob(os.path.join(store_root(lake), "data", "**", "*.parquet"), recursive=True))


def store_rows(spark, lake):
    files = store_files(lake)
    base = os.path.join(store_root(lake), "data")
    return spark.read.option("basePath", base).parquet(*files).collect() if files else []


def record(lake, day):
    path = os.path.join(lake, "_ledger", "publication", GROUP, "feature_version=v1", f"dt={day}.json")
    return json.load(open(path)) if os.path.exists(path) else None


def publish_run(spark, lake, *extra):
    return run_backfill(spark, lake, DAYS[0], DAYS[-1], "--chunk-size-days", "3", "--run-id", RUN,
                        "--feature-group", GROUP, "--offline-publish-dates", ",".join(DAYS), *extra)


def test_each_day_is_published_once_in_the_offline_layout_and_recorded(spark, lake):
    bronze(lake)
    (m,) = publish_run(spark, lake)
    assert m["offline_publication"] == {d: {"status": "published", "records": 12} for d in DAYS}
    rows = store_rows(spark, lake)
    assert len(rows) == 36 and len({r["event_id"] for r in rows}) == 36
    # The documented layout: event-time partitions, SageMaker's extra columns, ISO event time.
    assert {os.path.relpath(f, store_root(lake)).split("/")[4] for f in store_files(lake)} == {"hour=01", "hour=09", "hour=17"}
    r = next(r for r in rows if r["event_id"] == "e0-9-2")
    assert (r["event_time"], r["is_deleted"], r["card_id"], r["year"], r["month"], r["day"]) == (
        "2025-10-01T09:12:00Z", False, "C2", "2025", "10", "01")
    assert r["write_time"] is not None and r["api_invocation_time"] is not None
    for d in DAYS:
        rec = record(lake, d)
        assert (rec["status"], rec["published_with"], rec["records_written"], rec["target_stores"]) == (
            "done", "spark", 12, ["OfflineStore"])
        assert sorted(rec["offline_files"]) == sorted(f"file://{f}" for f in store_files(lake) if f"_dt={d}_" in f)
    # Published days are not written again by a rerun (nothing to compute, nothing to publish).
    before = {f: os.path.getmtime(f) for f in store_files(lake)}
    (m,) = publish_run(spark, lake, "--compute-dates", "")
    assert set(s["status"] for s in m["offline_publication"].values()) == {"already_published"}
    assert {f: os.path.getmtime(f) for f in store_files(lake)} == before


def test_a_job_that_dies_midway_is_redone_from_the_ledger_without_duplicates(spark, lake, monkeypatch,
                                                                           die_while_publishing):
    bronze(lake)
    die_while_publishing(DAYS[1])
    with pytest.raises(RuntimeError, match="midway"):
        publish_run(spark, lake)
    # Day 1 done; day 2 died with one file moved and its record in progress; day 3 untouched.
    assert record(lake, DAYS[0])["status"] == "done"
    assert record(lake, DAYS[1])["status"] == "in_progress" and record(lake, DAYS[1])["sending"] is True
    assert record(lake, DAYS[2]) is None
    partial = [f for f in store_files(lake) if f"_dt={DAYS[1]}_" in f]
    assert len(partial) == 1, partial
    day1_files = {f: os.path.getmtime(f) for f in store_files(lake) if f"_dt={DAYS[0]}_" in f}
    moved = spark.read.parquet(partial[0]).count()
    assert moved > 0 and len(store_rows(spark, lake)) == 12 + moved, "day 1 whole, day 2 in part"

    monkeypatch.undo()
    (m,) = publish_run(spark, lake, "--compute-dates", "")
    assert m["offline_publication"] == {DAYS[0]: {"status": "already_published", "records": 12},
                                        DAYS[1]: {"status": "published", "records": 12},
                                        DAYS[2]: {"status": "published", "records": 12}}
    rows = store_rows(spark, lake)
    assert len(rows) == 36 and len({r["event_id"] for r in rows}) == 36, "every record exactly once"
    assert {f: os.path.getmtime(f) for f in store_files(lake) if f"_dt={DAYS[0]}_" in f} == day1_files
    assert not os.path.exists(os.path.join(store_root(lake), "_staging", "feature_version=v1", f"dt={DAYS[1]}"))
    assert all(record(lake, d)["status"] == "done" for d in DAYS)
    assert record(lake, DAYS[1])["attempts"] == 2


def test_bad_offline_store_argument_is_refused(spark, lake):
    with pytest.raises(SystemExit, match="--offline-store"):
        publish_run(spark, lake, "--offline-store", "s3://somewhere")


def test_a_day_with_nothing_staged_fails_instead_of_being_recorded_done(spark, lake):
    from card_features.lake_fs import LakeFs

    with pytest.raises(FileNotFoundError, match="nothing staged"):
        LakeFs(spark).relative_data_files(f"file://{lake}/_staging/feature_version=v1/run=r/dt=2025-10-01")
