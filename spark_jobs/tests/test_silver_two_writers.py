"""Silver and quarantine are per lake, not per version: backfills of v1 and v2 over the same days run at
once (the lease is per version), and both jobs replace the same silver and quarantine days. Each day is
swapped in under a lock every writer of the lake takes, so the swaps never interleave (lake_swap.py).

The interleaving is driven for real: job A's thread in the JVM is suspended while it deletes a day's
old files (the first of them gone, most still there), job B (the other version) then runs to its end,
and A is resumed. On a Spark dynamic partition overwrite (no lock) A then finds B's files in the day it
was emptying and moves its own files in beside them (a nested `dt=D/dt=D/`): each event twice. With the
lock, B waits for A's swap (the fixture resumes A when B finds the lock held) and the day ends with
one writer's files. The pause needs Java's Thread.suspend (deprecated, still there in Java 17).
"""
import json
import os
import threading
import time

import pytest
from card_features.lake_fs import LakeFs
from lakeutil import ev, run_backfill, write_bronze

DAY = "2025-10-01"
# Enough files in the day that its delete lasts long enough to be caught in the middle (a few 100 ms).
PADS = 20000
BAD_LINES = ["not json at all", json.dumps({"event_id": "x1", "card_id": "C1", "amount": 1.0})]


def bronze(lake):
    """Six events, two of them sent twice, and two refused lines; returns (event ids, refused lines)."""
    events = [ev(f"e{i}", f"C{i % 3}", f"{DAY}T{i:02d}:10:00", 1.0 + i) for i in range(6)]
    write_bronze(lake, DAY, [*events, events[0], events[3], *BAD_LINES])
    return sorted({e["event_id"] for e in events}), sorted(BAD_LINES)


def day_dir(lake, table):
    return os.path.join(lake, table, "card_authorization", f"dt={DAY}")


def day_rows(spark, lake, table):
    """Every row under the day's directory, nested directories included (they are what breaks)."""
    return spark.read.option("recursiveFileLookup", "true").parquet(day_dir(lake, table)).collect()


class Suspended:
    """Job A's JVM thread, suspended in the middle of deleting a day's old files."""

    def __init__(self, spark):
        self.jvm = spark.sparkContext._jvm
        self.thread = None
        self.paused = threading.Event()
        self.resumed = threading.Event()
        # Set when job B found the lock A holds while A was paused: B waited for A's swap.
        self.met_the_lock = threading.Event()

    def resume(self):
        if self.paused.is_set() and not self.resumed.is_set():
            self.resumed.set()
            self.thread.resume()


@pytest.fixture
def job_a_paused_mid_delete(spark, monkeypatch):
    """Runs job A in a thread and suspends it once it has deleted the first file of `folder`; returns
    (the A thread's outcome, the pause). A lock attempt that finds the lock held resumes A."""
    pause = Suspended(spark)
    real_try_lock = getattr(LakeFs, "try_swap_lock", None)

    def try_swap_lock(self, *args, **kwargs):
        took = real_try_lock(self, *args, **kwargs)
        if not took and threading.current_thread() is threading.main_thread() and not pause.resumed.is_set():
            pause.met_the_lock.set()
            pause.resume()  # B waits for the lock A holds: A may finish its swap now
        return took

    if real_try_lock is not None:
        monkeypatch.setattr(LakeFs, "try_swap_lock", try_swap_lock)

    def start(folder, job):
        # readdir's order: the order of Java's File.listFiles, hence of Hadoop's delete.
        first = os.path.join(folder, os.listdir(folder)[0])
        outcome = {}

        def run_a():
            pause.thread = pause.jvm.java.lang.Thread.currentThread()
            try:
                outcome["manifests"] = job()
            except BaseException as err:  # noqa: BLE001 - reported by the test
                outcome["error"] = err

        a = threading.Thread(target=run_a, name="job-a")
        a.start()
        while os.path.exists(first):
            assert a.is_alive(), f"job A ended without deleting {folder}: {outcome}"
            time.sleep(0.0005)
        pause.thread.suspend()
        pause.paused.set()
        left = len(os.listdir(folder)) if os.path.isdir(folder) else 0
        assert left > PADS // 2, f"A was paused after its delete ({left} files left), not in it"
        return a, outcome, pause

    yield start
    pause.resume()



@pytest.mark.parametrize("table", ["silver", "quarantine"])
def test_two_versions_replacing_one_day_at_once_leave_each_event_once(spark, lake, job_a_paused_mid_delete, table):
    events, refused = bronze(lake)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-0")  # the day's silver and quarantine exist
    folder = day_dir(lake, table)
    for i in range(PADS):  # the old day is big: its delete takes a while
        open(os.path.join(folder, f".pad-{i:05d}"), "w").close()

    def job(version, run_id):
        return lambda: run_backfill(spark, lake, DAY, DAY, "--run-id", run_id, "--overwrite", version=version)

    a, outcome, pause = job_a_paused_mid_delete(folder, job("v1", "run-a"))
    try:
        (b,) = job("v2", "run-b")()
    finally:
        pause.resume()
        a.join()
    assert "error" not in outcome, outcome.get("error")
    (m,) = outcome["manifests"]
    assert b["output_rows"] == m["output_rows"] == len(events)
    silver = day_rows(spark, lake, "silver")
    assert sorted(r["event_id"] for r in silver) == events, "each valid event once in silver"
    quarantine = day_rows(spark, lake, "quarantine")
    assert sorted(r["raw"] for r in quarantine) == refused, "each refused line once in quarantine"
    nested = [d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))]
    assert nested == [], f"directories inside {folder}: {nested}"
    assert pause.met_the_lock.is_set(), "B asked for the day's lock while A, paused, held it"
    for t in ("silver", "quarantine"):  # each attempt removed its staging, and released its locks
        assert files_under(lake, t, "_staging") == [] and files_under(lake, t, "_locks") == [], t


def files_under(lake, table, hidden):
    root = os.path.join(lake, table, "card_authorization", hidden)
    return [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]
