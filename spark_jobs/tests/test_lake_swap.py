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
import socket
import subprocess
import sys
import threading
import time

import pytest
from card_features import day_lock, job, lake_swap
from card_features.failures import SwapLockTimeout
from card_features.lake_fs import LakeFs
from lakeutil import ev, partition_files, run_backfill, write_bronze

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
    nested = [d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))]
    assert nested == [], f"directories inside {folder}: {nested}"
    silver = day_rows(spark, lake, "silver")
    assert sorted(r["event_id"] for r in silver) == events, "each valid event once in silver"
    quarantine = day_rows(spark, lake, "quarantine")
    assert sorted(r["raw"] for r in quarantine) == refused, "each refused line once in quarantine"
    assert pause.met_the_lock.is_set(), "B asked for the day's lock while A, paused, held it"
    for t in ("silver", "quarantine"):  # each attempt removed its staging, and released its locks
        assert files_under(lake, t, "_staging") == [] and files_under(lake, t, "_locks") == [], t


def files_under(lake, table, hidden):
    root = os.path.join(lake, table, "card_authorization", hidden)
    return [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]


def test_a_job_that_cannot_get_a_days_lock_stops_with_a_named_failure_and_swaps_nothing(
        spark, lake, tmp_path, monkeypatch):
    bronze(lake)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-0")
    before = partition_files(lake, "silver", "card_authorization", f"dt={DAY}")
    # A live writer (this process, another attempt) holds the day's silver lock for longer than the job waits.
    uri = lake_swap.lock_uri(f"file://{lake}/silver/card_authorization", DAY)
    holder = day_lock.owner("attempt-other", "run-other")
    assert day_lock.try_lock(uri, holder) is not None
    monkeypatch.setattr(day_lock, "LOCK_WAIT_SECONDS", 0.3)
    error_path = str(tmp_path / "error.json")
    argv = ["--bucket", lake, "--start-date", DAY, "--end-date", DAY, "--run-id", "run-1", "--overwrite",
            "--error-path", error_path]
    assert job.main(argv, spark=spark) == 2
    with open(error_path) as f:
        record = json.load(f)
    assert record["type"] == "StorageError" and record["retryable"] is True and record["path"] == uri
    assert "attempt attempt-other of run run-other" in record["reason"] and "nothing swapped" in record["reason"]
    assert partition_files(lake, "silver", "card_authorization", f"dt={DAY}") == before, "silver untouched"
    assert files_under(lake, "silver", "_staging") == [], "the attempt removed its staging"
    day_lock.release(day_lock.Held(uri, holder))
    assert files_under(lake, "silver", "_locks") == []


def test_an_emptied_days_delete_waits_for_the_days_lock_too(spark, lake, tmp_path, monkeypatch):
    bronze(lake)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-0")
    before = partition_files(lake, "silver", "card_authorization", f"dt={DAY}")
    write_bronze(lake, DAY, BAD_LINES)  # the day's bronze replaced: no valid event left, its silver goes
    uri = lake_swap.lock_uri(f"file://{lake}/silver/card_authorization", DAY)
    holder = day_lock.owner("attempt-other", "run-other")
    assert day_lock.try_lock(uri, holder) is not None
    monkeypatch.setattr(day_lock, "LOCK_WAIT_SECONDS", 0.3)
    error_path = str(tmp_path / "error.json")
    argv = ["--bucket", lake, "--start-date", DAY, "--end-date", DAY, "--run-id", "run-1", "--overwrite",
            "--error-path", error_path]
    assert job.main(argv, spark=spark) == 2
    with open(error_path) as f:
        assert json.load(f)["path"] == uri
    assert partition_files(lake, "silver", "card_authorization", f"dt={DAY}") == before, "not deleted without the lock"
    day_lock.release(day_lock.Held(uri, holder))
    (m,) = run_backfill(spark, lake, DAY, DAY, "--run-id", "run-2", "--overwrite")
    assert m["output_rows"] == 0 and not os.path.exists(day_dir(lake, "silver"))


def test_a_days_lock_left_by_a_dead_job_is_broken(spark, lake):
    events, refused = bronze(lake)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    table = f"file://{lake}/silver/card_authorization"
    lock = lake_swap.lock_uri(table, DAY)[len("file://"):]
    os.makedirs(os.path.dirname(lock))
    with open(lock, "w") as f:
        json.dump({"pid": dead.pid, "start": 1, "host": socket.gethostname(), "attempt": "dead"}, f)
    (m,) = run_backfill(spark, lake, DAY, DAY, "--run-id", "run-1")
    assert m["output_rows"] == len(events)
    assert sorted(r["event_id"] for r in day_rows(spark, lake, "silver")) == events
    assert files_under(lake, "silver", "_locks") == []


# --- The S3 lock object, against moto server on loopback (conftest.py, fixture s3) ---

S3_LOCK = "s3://lake/silver/card_authorization/_locks/dt=2025-10-01.lock"


def test_s3_one_holder_at_a_time_and_release_leaves_anothers_lock(s3):
    a, b = day_lock.owner("attempt-a", "run-a"), day_lock.owner("attempt-b", "run-b")
    held = day_lock.try_lock(S3_LOCK, a)
    assert held is not None
    assert day_lock.try_lock(S3_LOCK, b) is None, "a live lock is not taken"
    body = json.loads(s3.get_object(Bucket="lake", Key=S3_LOCK[len("s3://lake/"):])["Body"].read())
    assert body["holder"]["attempt"] == "attempt-a" and body["ttl_seconds"] == day_lock.LOCK_TTL_SECONDS
    assert "attempt attempt-a of run run-a" in day_lock.describe_holder(S3_LOCK)
    day_lock.release(held)
    assert s3.list_objects_v2(Bucket="lake", Prefix="silver/")["KeyCount"] == 0
    held_b = day_lock.try_lock(S3_LOCK, b)
    day_lock.release(held)  # a's release, late: b's lock stays
    assert day_lock.try_lock(S3_LOCK, a) is None
    day_lock.release(held_b)
    assert s3.list_objects_v2(Bucket="lake", Prefix="silver/")["KeyCount"] == 0


def test_s3_an_expired_lock_is_taken_over_by_one_writer(spark, s3, monkeypatch):
    key = S3_LOCK[len("s3://lake/"):]
    # A holder that died: its lock expires one second after S3 wrote it.
    s3.put_object(Bucket="lake", Key=key, Body=json.dumps({"holder": {"attempt": "dead"}, "ttl_seconds": 1}))
    monkeypatch.setattr(day_lock, "_S3_POLL_SECONDS", 0.2)
    monkeypatch.setattr(day_lock, "LOCK_WAIT_SECONDS", 30)
    with day_lock.hold(LakeFs(spark), S3_LOCK, day_lock.owner("attempt-a", "run-a")):
        body = json.loads(s3.get_object(Bucket="lake", Key=key)["Body"].read())
        assert body["holder"]["attempt"] == "attempt-a"
    assert s3.list_objects_v2(Bucket="lake", Prefix="silver/")["KeyCount"] == 0
    # Two writers that read the same expired lock: the take-over (If-Match its ETag) lets one win.
    expired = s3.put_object(Bucket="lake", Key=key, Body=b"{}")["ETag"]
    first = day_lock._s3_put_if(s3, "lake", key, b"one", {"IfMatch": expired})
    second = day_lock._s3_put_if(s3, "lake", key, b"two", {"IfMatch": expired})
    assert first is not None and second is None
    assert s3.get_object(Bucket="lake", Key=key)["Body"].read() == b"one"


def test_s3_a_waiter_gives_up_on_a_live_lock_with_a_named_failure(spark, s3, monkeypatch):
    held = day_lock.try_lock(S3_LOCK, day_lock.owner("attempt-a", "run-a"))
    monkeypatch.setattr(day_lock, "_S3_POLL_SECONDS", 0.1)
    monkeypatch.setattr(day_lock, "LOCK_WAIT_SECONDS", 0.3)
    with pytest.raises(SwapLockTimeout, match="held by attempt attempt-a of run run-a"):
        with day_lock.hold(LakeFs(spark), S3_LOCK, day_lock.owner("attempt-b", "run-b")):
            raise AssertionError("entered without the lock")
    day_lock.release(held)
