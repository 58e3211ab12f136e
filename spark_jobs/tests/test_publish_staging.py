"""Concurrent chunks of one backfill publish to the offline store at once (issue 20, item 1): each job
attempt stages in its own directory, so one chunk's staging, cleanup or Spark temporaries never touch
another's files. The interleaving that broke a shared run-scoped staging is driven by a fixture:
chunk A stages its day, then chunk B runs its whole publication, then A moves its files."""
import glob
import json
import os
import re

import pytest
from card_features import offline_publish
from card_features.failures import LedgerConflict
from card_features.lake_fs import LakeFs
from lakeutil import ev, run_backfill, write_bronze

DAYS = ("2025-10-01", "2025-10-02")
GROUP = "rt_card_features_v1"
RUN = "run-shared"


def bronze(lake):
    for i, day in enumerate(DAYS):
        write_bronze(lake, day, [ev(f"e{i}-{h}-{c}", f"C{c}", f"{day}T{h:02d}:{10 + c}:00", 1.0 + c)
                                 for h in (1, 9, 17) for c in range(4)])


def store_root(lake):
    return os.path.join(lake, "_feature_store", "offline-store", GROUP)


def store_files(lake, day):
    return sorted(f for f in glob.glob(os.path.join(store_root(lake), "data", "**", "*.parquet"), recursive=True)
                  if f"_dt={day}_" in os.path.basename(f))


def record(lake, day):
    path = os.path.join(lake, "_ledger", "publication", GROUP, "feature_version=v1", f"dt={day}.json")
    with open(path) as f:
        return json.load(f)


def chunk(spark, lake, day, *extra):
    """One chunk job of the shared run: compute (if asked) and publish its day."""
    return run_backfill(spark, lake, day, day, "--run-id", RUN, "--feature-group", GROUP,
                        "--offline-publish-dates", day, *extra)


def test_a_chunk_publishing_meanwhile_leaves_another_chunks_staged_files_alone(spark, lake, monkeypatch):
    bronze(lake)
    for day in DAYS:  # both days' gold committed by the run, nothing published yet
        run_backfill(spark, lake, day, day, "--run-id", RUN, "--feature-group", GROUP)
    original = offline_publish._move_and_record
    interleaved = []

    def move_after_the_other_chunk(*args, **kwargs):
        # A has staged its day; before it moves a file, chunk B publishes its day from start to end.
        if not interleaved:
            interleaved.append(None)
            interleaved[0] = chunk(spark, lake, DAYS[1], "--compute-dates", "")
        return original(*args, **kwargs)

    monkeypatch.setattr(offline_publish, "_move_and_record", move_after_the_other_chunk)
    (a,) = chunk(spark, lake, DAYS[0], "--compute-dates", "")
    (b,) = interleaved[0]
    assert a["offline_publication"] == {DAYS[0]: {"status": "published", "records": 12}}
    assert b["offline_publication"] == {DAYS[1]: {"status": "published", "records": 12}}
    base = os.path.join(store_root(lake), "data")
    for day in DAYS:
        files = store_files(lake, day)
        rows = spark.read.option("basePath", base).parquet(*files).collect()
        assert len(rows) == 12 and len({r["event_id"] for r in rows}) == 12, day
        rec = record(lake, day)
        assert rec["status"] == "done" and sorted(rec["offline_files"]) == [f"file://{f}" for f in files]
    # Each attempt removed its own staging, and only that: nothing is left under the run.
    run_stage = os.path.join(store_root(lake), "_staging", "feature_version=v1", f"run={RUN}")
    assert glob.glob(os.path.join(run_stage, "**", "*.parquet"), recursive=True) == []


def test_each_attempt_stages_under_its_own_directory(spark, lake, monkeypatch):
    bronze(lake)
    run_backfill(spark, lake, DAYS[0], DAYS[0], "--run-id", RUN, "--feature-group", GROUP)
    seen = []
    original = offline_publish._move_and_record

    def spy(fs, cfg, root, stage, *rest):
        seen.append(stage)
        return original(fs, cfg, root, stage, *rest)

    monkeypatch.setattr(offline_publish, "_move_and_record", spy)
    chunk(spark, lake, DAYS[0], "--compute-dates", "")
    chunk(spark, lake, DAYS[0], "--compute-dates", "", "--overwrite")  # already done: nothing staged
    assert len(seen) == 1
    prefix = f"file://{store_root(lake)}/_staging/feature_version=v1/run={RUN}/attempt="
    assert seen[0].startswith(prefix) and seen[0].endswith(f"/dt={DAYS[0]}"), seen


def test_a_killed_attempts_staging_of_a_day_it_recorded_is_removed_by_the_attempt_that_takes_it_over(
        spark, lake, monkeypatch, die_while_publishing):
    bronze(lake)
    run_backfill(spark, lake, DAYS[0], DAYS[1], "--run-id", RUN, "--feature-group", GROUP)
    # The first attempt dies as a kill would: midway through DAYS[1], before it can clean its staging.
    die_while_publishing(DAYS[1])
    real_delete = LakeFs.delete
    monkeypatch.setattr(LakeFs, "delete", lambda self, path: None if re.search(r"/attempt=[^/]+$", path)
                        else real_delete(self, path))
    with pytest.raises(RuntimeError, match="midway"):
        run_backfill(spark, lake, DAYS[0], DAYS[1], "--run-id", RUN, "--feature-group", GROUP,
                     "--offline-publish-dates", ",".join(DAYS), "--compute-dates", "", "--chunk-size-days", "2")
    dead = record(lake, DAYS[1])
    assert dead["status"] == "in_progress" and dead["staging"].endswith(f"/attempt={dead['spark_attempt']}")
    dead_day_stage = dead["staging"][len("file://"):] + f"/dt={DAYS[1]}"
    assert os.path.isdir(dead_day_stage)
    monkeypatch.undo()

    (m,) = run_backfill(spark, lake, DAYS[0], DAYS[1], "--run-id", RUN, "--feature-group", GROUP,
                        "--offline-publish-dates", ",".join(DAYS), "--compute-dates", "", "--chunk-size-days", "2")
    assert m["offline_publication"][DAYS[1]] == {"status": "published", "records": 12}
    assert not os.path.exists(dead_day_stage), "the day's staging of the attempt its record named is gone"
    assert len(store_files(lake, DAYS[1])) == len(record(lake, DAYS[1])["offline_files"])
    base = os.path.join(store_root(lake), "data")
    rows = spark.read.option("basePath", base).parquet(*store_files(lake, DAYS[1])).collect()
    assert len(rows) == 12 and len({r["event_id"] for r in rows}) == 12


def test_two_attempts_publishing_one_day_one_records_it_the_other_stops(spark, lake, monkeypatch):
    bronze(lake)
    run_backfill(spark, lake, DAYS[0], DAYS[0], "--run-id", RUN, "--feature-group", GROUP)
    original = offline_publish._move_and_record
    raced = []

    def the_other_attempt_first(*args, **kwargs):
        # Attempt A decided (no record yet) and staged; attempt B publishes the same day from start to end.
        if not raced:
            raced.append(None)
            raced[0] = chunk(spark, lake, DAYS[0], "--compute-dates", "")
        return original(*args, **kwargs)

    monkeypatch.setattr(offline_publish, "_move_and_record", the_other_attempt_first)
    with pytest.raises(LedgerConflict, match=f"publication/{GROUP}/feature_version=v1/dt={DAYS[0]}.json"):
        chunk(spark, lake, DAYS[0], "--compute-dates", "")
    assert raced[0][0]["offline_publication"] == {DAYS[0]: {"status": "published", "records": 12}}
    rec = record(lake, DAYS[0])
    files = store_files(lake, DAYS[0])
    assert rec["status"] == "done" and rec["attempts"] == 1 and sorted(rec["offline_files"]) == [f"file://{f}" for f in files]
    rows = spark.read.option("basePath", os.path.join(store_root(lake), "data")).parquet(*files).collect()
    assert len(rows) == 12 and len({r["event_id"] for r in rows}) == 12, "the loser moved nothing"
    run_stage = os.path.join(store_root(lake), "_staging", "feature_version=v1", f"run={RUN}")
    assert glob.glob(os.path.join(run_stage, "**", "*.parquet"), recursive=True) == []
