"""The day swap lock of silver and quarantine (lake_swap.py, day_lock.py): a writer that cannot get a day's
lock in time stops with a named failure and swaps nothing; a dead holder's lock is broken (locally) or
taken over once expired (S3, moto server on loopback); a holder whose lock was taken over mid-swap stops
before its rename; a release never removes another holder's lock.
The race of two versions' jobs on one day is test_silver_two_writers.py."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from card_features import day_lock, job, lake_swap
from card_features.failures import SwapLockLost, SwapLockTimeout
from card_features.lake_fs import LakeFs
from lakeutil import partition_files, run_backfill, write_bronze
from test_silver_two_writers import BAD_LINES, DAY, bronze, day_dir, day_rows, files_under


def _held_by_another_writer(lake, monkeypatch):
    """A live writer (this process, another attempt) holds the day's silver lock longer than the job waits."""
    uri = lake_swap.lock_uri(f"file://{lake}/silver/card_authorization", DAY)
    holder = day_lock.owner("attempt-other", "run-other")
    assert day_lock.try_lock(uri, holder) is not None
    monkeypatch.setattr(day_lock, "LOCK_WAIT_SECONDS", 0.3)
    return day_lock.Held(uri, holder)


def _overwrite_fails(spark, lake, tmp_path) -> dict:
    """Runs the day again with --overwrite, which must fail (exit 2); the job's error record."""
    error_path = str(tmp_path / "error.json")
    argv = ["--bucket", lake, "--start-date", DAY, "--end-date", DAY, "--run-id", "run-1", "--overwrite",
            "--error-path", error_path]
    assert job.main(argv, spark=spark) == 2
    with open(error_path) as f:
        return json.load(f)


def test_a_job_that_cannot_get_a_days_lock_stops_with_a_named_failure_and_swaps_nothing(
        spark, lake, tmp_path, monkeypatch):
    bronze(lake)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-0")
    before = partition_files(lake, "silver", "card_authorization", f"dt={DAY}")
    held = _held_by_another_writer(lake, monkeypatch)
    record = _overwrite_fails(spark, lake, tmp_path)
    assert record["type"] == "StorageError" and record["retryable"] is True and record["path"] == held.uri
    assert "attempt attempt-other of run run-other" in record["reason"] and "nothing swapped" in record["reason"]
    assert partition_files(lake, "silver", "card_authorization", f"dt={DAY}") == before, "silver untouched"
    assert files_under(lake, "silver", "_staging") == [], "the attempt removed its staging"
    day_lock.release(held)
    assert files_under(lake, "silver", "_locks") == []


def test_an_emptied_days_delete_waits_for_the_days_lock_too(spark, lake, tmp_path, monkeypatch):
    bronze(lake)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-0")
    before = partition_files(lake, "silver", "card_authorization", f"dt={DAY}")
    write_bronze(lake, DAY, BAD_LINES)  # the day's bronze replaced: no valid event left, its silver goes
    held = _held_by_another_writer(lake, monkeypatch)
    assert _overwrite_fails(spark, lake, tmp_path)["path"] == held.uri
    assert partition_files(lake, "silver", "card_authorization", f"dt={DAY}") == before, "not deleted without the lock"
    day_lock.release(held)
    (m,) = run_backfill(spark, lake, DAY, DAY, "--run-id", "run-2", "--overwrite")
    assert m["output_rows"] == 0 and not os.path.exists(day_dir(lake, "silver"))


def test_a_writer_whose_lock_was_taken_over_during_its_delete_stops_before_the_rename(
        spark, lake, tmp_path, monkeypatch):
    events, _ = bronze(lake)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-0")
    table = f"file://{lake}/silver/card_authorization"
    uri = lake_swap.lock_uri(table, DAY)
    other = day_lock.owner("attempt-other", "run-other")
    real_delete = LakeFs.delete

    def delete(self, path):
        real_delete(self, path)
        if path == f"{table}/dt={DAY}":  # the swap's delete: meanwhile another writer takes the lock
            with open(uri[len("file://"):], "wb") as f:
                f.write(other)

    monkeypatch.setattr(LakeFs, "delete", delete)
    record = _overwrite_fails(spark, lake, tmp_path)
    assert record["type"] == "StorageError" and record["retryable"] is True and record["path"] == uri
    assert "taken over by attempt attempt-other of run run-other" in record["reason"]
    assert not os.path.exists(day_dir(lake, "silver")), "nothing renamed over the new holder's swap"
    assert files_under(lake, "silver", "_staging") == [], "the attempt removed its staging"
    with open(uri[len("file://"):], "rb") as f:
        assert f.read() == other, "the new holder's lock left to it"
    day_lock.release(day_lock.Held(uri, other))
    monkeypatch.setattr(LakeFs, "delete", real_delete)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-2", "--overwrite")  # the retry
    assert sorted(r["event_id"] for r in day_rows(spark, lake, "silver")) == events


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


def test_s3_a_holder_whose_lock_expired_and_was_taken_over_is_told_and_leaves_it(spark, s3, monkeypatch):
    key = S3_LOCK[len("s3://lake/"):]
    monkeypatch.setattr(day_lock, "LOCK_TTL_SECONDS", 1)  # a's lock expires a second after each write
    b = day_lock.owner("attempt-b", "run-b")
    with day_lock.hold(LakeFs(spark), S3_LOCK, day_lock.owner("attempt-a", "run-a")) as lock:
        first = lock.held.token
        lock.confirm()  # still a's: renewed, with a new expiry
        assert json.loads(s3.get_object(Bucket="lake", Key=key)["Body"].read())["holder"]["attempt"] == "attempt-a"
        taken = None
        # b takes it over once it has expired: a second by S3's clock (whole seconds), so within a few.
        deadline = time.monotonic() + 30
        while taken is None and time.monotonic() < deadline:
            taken = day_lock.try_lock(S3_LOCK, b)
            time.sleep(0.2)
        assert taken is not None and taken.token != first
        with pytest.raises(SwapLockLost, match="taken over by attempt attempt-b of run run-b"):
            lock.confirm()
    body = json.loads(s3.get_object(Bucket="lake", Key=key)["Body"].read())
    assert body["holder"]["attempt"] == "attempt-b", "a's release left b's lock"
    day_lock.release(taken)
    assert s3.list_objects_v2(Bucket="lake", Prefix="silver/")["KeyCount"] == 0
