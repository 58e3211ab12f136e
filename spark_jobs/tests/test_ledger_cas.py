"""Conditional ledger writes (issue 20 item 2; docs/design.md, "Conditional ledger writes"): a gold
commit replaces only the commit its job saw when it planned; the loser of a race
raises LedgerConflict, its job ends with that error record, and the winner's gold stays current."""
import hashlib
import json
import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

from card_features import conditional, failures, job, ledger
from card_features.failures import ConditionalWritesUnavailable, LedgerConflict
from lakeutil import commit, ev, gold_rows, run_backfill, write_bronze

DAY = "2025-10-01"


def bronze(lake, amount=1.0):
    write_bronze(lake, DAY, [ev(f"e{c}", f"C{c}", f"{DAY}T0{c}:10:00", amount + c) for c in range(4)])


def test_two_jobs_racing_on_one_days_commit_one_wins_the_other_stops(spark, lake, tmp_path, monkeypatch):
    bronze(lake)
    original = ledger.commit_days
    raced = []

    def other_job_commits_first(*args, **kwargs):
        # Job A planned (no commit yet) and wrote its gold; before it commits, job B runs to the end.
        if not raced:
            raced.append("run-b")
            run_backfill(spark, lake, DAY, DAY, "--run-id", "run-b", "--overwrite")
        return original(*args, **kwargs)

    monkeypatch.setattr(ledger, "commit_days", other_job_commits_first)
    error_path = str(tmp_path / "a.error.json")
    argv = ["--bucket", lake, "--start-date", DAY, "--end-date", DAY, "--run-id", "run-a", "--error-path", error_path]
    assert job.main(argv, spark=spark) == 2
    with open(error_path) as f:
        record = json.load(f)
    path = f"file://{lake}/_ledger/gold/card_features/feature_version=v1/dt={DAY}.json"
    assert record["type"] == "LedgerConflict" and record["path"] == path
    assert record["expected"] is None and record["found"] == _md5(path)
    winner = commit(lake, "v1", DAY)
    assert winner["run_id"] == "run-b" and winner["location"].endswith("/run=run-b")
    assert all(os.path.exists(f[len("file://"):]) for f in winner["files"])
    assert set(gold_rows(spark, lake, "v1")) == {f"e{c}" for c in range(4)}


def test_a_commit_replaces_the_commit_it_planned_from(spark, lake):
    bronze(lake)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-1")
    first = commit(lake, "v1", DAY)
    run_backfill(spark, lake, DAY, DAY, "--run-id", "run-2", "--overwrite")
    second = commit(lake, "v1", DAY)
    assert second["run_id"] == "run-2" and second["previous_location"] == first["location"]


def _md5(uri):
    with open(uri[len("file://"):], "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


# --- The local compare-and-swap itself ---

def test_the_second_writer_with_the_same_etag_loses(tmp_path):
    uri = f"file://{tmp_path}/ledger/dt=1.json"
    assert conditional.read_text_with_etag(uri) is None
    etag = conditional.write_text_if(uri, "one", if_none_match=True)
    assert etag == hashlib.md5(b"one").hexdigest()
    with pytest.raises(LedgerConflict) as created_twice:
        conditional.write_text_if(uri, "other", if_none_match=True)
    assert created_twice.value.expected is None and created_twice.value.found == etag
    read = conditional.read_text_with_etag(uri)
    assert read == ("one", etag)
    winner = conditional.write_text_if(uri, "two", if_match=etag)
    with pytest.raises(LedgerConflict, match="dt=1.json"):
        conditional.write_text_if(uri, "three", if_match=etag)
    assert conditional.read_text_with_etag(uri) == ("two", winner)
    # Locks and temporary files are hidden and gone.
    assert sorted(os.listdir(tmp_path / "ledger")) == ["dt=1.json"]


def test_a_replace_of_a_record_that_is_gone_is_a_conflict(tmp_path):
    uri = f"file://{tmp_path}/dt=1.json"
    with pytest.raises(LedgerConflict):
        conditional.write_text_if(uri, "x", if_match="0" * 32)
    assert not os.path.exists(tmp_path / "dt=1.json")


def _lock(tmp_path, content):
    path = tmp_path / ".dt=1.json.lock"
    path.write_text(json.dumps(content))
    return path


def test_a_stale_lock_of_a_dead_process_is_broken(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = _lock(tmp_path, {"pid": dead.pid, "start": 1, "host": socket.gethostname()})
    conditional.write_text_if(f"file://{tmp_path}/dt=1.json", "x", if_none_match=True)
    assert not lock.exists() and (tmp_path / "dt=1.json").read_text() == "x"


def test_a_lock_of_a_reused_pid_is_stale(tmp_path):
    # Our own pid, but another start time: the process that took the lock is gone.
    lock = _lock(tmp_path, {"pid": os.getpid(), "start": conditional.process_start(os.getpid()) + 1,
                            "host": socket.gethostname()})
    conditional.write_text_if(f"file://{tmp_path}/dt=1.json", "x", if_none_match=True)
    assert not lock.exists()


def test_a_live_lock_holder_is_waited_for_then_named(tmp_path, monkeypatch):
    monkeypatch.setattr(conditional, "LOCK_WAIT_SECONDS", 0.2)
    _lock(tmp_path, {"pid": os.getpid(), "start": conditional.process_start(os.getpid()),
                     "host": socket.gethostname()})
    with pytest.raises(LedgerConflict, match=f"locked by pid {os.getpid()} on {socket.gethostname()}"):
        conditional.write_text_if(f"file://{tmp_path}/dt=1.json", "x", if_none_match=True)
    assert not (tmp_path / "dt=1.json").exists()


def _dead_owner():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return json.dumps({"pid": dead.pid, "start": 1, "host": socket.gethostname()}, separators=(",", ":")).encode()


def _writer(name):
    """Owner bytes of a live writer (this process); `who` tells the racing writers apart."""
    return conditional.owner_bytes()[:-1] + f',"who":"{name}"}}'.encode()


def test_a_stale_lock_broken_by_two_writers_at_once_lets_exactly_one_proceed(tmp_path):
    lock = str(tmp_path / ".dt=1.json.lock")
    stale = _dead_owner()
    with open(lock, "wb") as f:
        f.write(stale)
    a, b, c = _writer("a"), _writer("b"), _writer("c")
    # A and B both read the dead owner's lock and judge it stale.
    assert conditional.is_stale(stale)
    # B breaks it first and takes the lock.
    conditional.break_stale(lock, stale, b)
    assert conditional.try_lock(lock, b)
    # A, late, breaks what it judged stale: B's live lock stays, and neither A nor a third writer takes it.
    conditional.break_stale(lock, stale, a)
    assert not conditional.try_lock(lock, a)
    assert not conditional.try_lock(lock, c)
    with open(lock, "rb") as f:
        assert f.read() == b
    assert sorted(os.listdir(tmp_path)) == [".dt=1.json.lock"]  # no token or temporary left


def test_while_a_live_writer_holds_the_break_token_another_leaves_the_stale_lock_alone(tmp_path):
    lock = str(tmp_path / ".dt=1.json.lock")
    stale = _dead_owner()
    with open(lock, "wb") as f:
        f.write(stale)
    a, b = _writer("a"), _writer("b")
    token = f"{lock}.break.{json.loads(stale)['pid']}.1"
    assert conditional.try_lock(token, b)  # B is between taking the token and checking the lock
    conditional.break_stale(lock, stale, a)
    with open(lock, "rb") as f, open(token, "rb") as t:
        assert (f.read(), t.read()) == (stale, b)


def test_release_never_removes_another_writers_lock(tmp_path):
    lock = str(tmp_path / ".dt=1.json.lock")
    mine, other = _writer("me"), _writer("other")
    assert conditional.try_lock(lock, mine)
    # Meanwhile the lock was broken and retaken by another writer: releasing must leave that one.
    os.unlink(lock)
    assert conditional.try_lock(lock, other)
    conditional.release_lock(lock, mine)
    with open(lock, "rb") as f:
        assert f.read() == other
    conditional.release_lock(lock, other)
    assert not os.path.exists(lock)


def test_a_breaker_that_died_holding_its_token_is_broken_too(tmp_path):
    stale = _dead_owner()
    (tmp_path / ".dt=1.json.lock").write_bytes(stale)
    owner = json.loads(stale)
    (tmp_path / f".dt=1.json.lock.break.{owner['pid']}.1").write_bytes(_dead_owner())
    conditional.write_text_if(f"file://{tmp_path}/dt=1.json", "x", if_none_match=True)
    assert sorted(os.listdir(tmp_path)) == ["dt=1.json"]


def test_a_lock_on_another_host_is_never_stale_and_permission_denied_is_alive(tmp_path, monkeypatch):
    assert not conditional.is_stale(json.dumps({"pid": 1, "start": 1, "host": "elsewhere"}).encode())

    def denied(pid, sig):
        raise PermissionError(pid)

    monkeypatch.setattr(conditional.os, "kill", denied)
    assert not conditional.is_stale(_dead_owner())


# --- S3: conditional PutObject, against moto server on loopback (conftest.py, fixture s3) ---

def test_s3_conditional_puts_let_one_writer_win(s3):
    uri = "s3://lake/_ledger/gold/card_features/feature_version=v1/dt=2025-10-01.json"
    assert conditional.read_text_with_etag(uri) is None
    first = conditional.write_text_if(uri, "one", if_none_match=True)
    assert first == hashlib.md5(b"one").hexdigest()  # S3's ETag of a single-part PUT, as the local etag
    with pytest.raises(LedgerConflict) as created_twice:
        conditional.write_text_if(uri, "other", if_none_match=True)
    assert (created_twice.value.expected, created_twice.value.found) == (None, first)
    # Two writers read the same etag: the first replace wins, the second is refused.
    _, seen = conditional.read_text_with_etag(uri)
    second = conditional.write_text_if(uri, "two", if_match=seen)
    with pytest.raises(LedgerConflict) as lost:
        conditional.write_text_if(uri, "three", if_match=seen)
    assert (lost.value.expected, lost.value.found) == (seen, second)
    assert conditional.read_text_with_etag(uri) == ("two", second)
    with pytest.raises(LedgerConflict):
        conditional.write_text_if("s3://lake/_ledger/none.json", "x", if_match=first)
    assert s3.list_objects_v2(Bucket="lake", Prefix="_ledger/none")["KeyCount"] == 0


def test_s3_without_a_boto3_that_sends_conditions_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # as on an image without boto3
    uri = "s3://lake/_ledger/x.json"
    with pytest.raises(ConditionalWritesUnavailable, match="conditional ledger writes on S3 need boto3") as refused:
        conditional.write_text_if(uri, "x", if_none_match=True)
    # The job's error record: a storage error an operator must fix, not retried.
    assert failures.describe(None, None, refused.value) == {
        "type": "StorageError", "path": uri, "reason": conditional.S3_GAP, "retryable": False}


def test_s3_with_a_botocore_whose_delete_takes_no_if_match_is_refused(monkeypatch):
    """A botocore from before conditional deletes: the day swap lock could not be released safely."""
    import boto3

    real_client = boto3.client

    def older_client(*args, **kwargs):
        client = real_client(*args, **kwargs)
        model = client.meta.service_model
        real_operation = model.operation_model

        def operation_model(name):
            op = real_operation(name)
            if name != "DeleteObject":
                return op
            members = {k: v for k, v in op.input_shape.members.items() if k != "IfMatch"}
            return SimpleNamespace(input_shape=SimpleNamespace(members=members))

        monkeypatch.setattr(model, "operation_model", operation_model)
        return client

    monkeypatch.setattr(boto3, "client", older_client)
    with pytest.raises(ConditionalWritesUnavailable, match="DeleteObject takes IfMatch"):
        conditional.write_text_if("s3://lake/_ledger/x.json", "x", if_none_match=True)


def test_s3_a_retried_put_that_meets_its_own_write_succeeds(s3):
    # A PUT whose answer was lost is retried with the same condition: its 412 must resolve by the body.
    uri = "s3://lake/_ledger/publication/dt=2025-10-01.json"
    first = conditional.write_text_if(uri, "one", if_none_match=True)
    assert conditional.write_text_if(uri, "one", if_none_match=True) == first
    second = conditional.write_text_if(uri, "two", if_match=first)
    assert conditional.write_text_if(uri, "two", if_match=first) == second
    with pytest.raises(LedgerConflict) as other:
        conditional.write_text_if(uri, "three", if_match=first)
    assert (other.value.expected, other.value.found) == (first, second)
    assert conditional.read_text_with_etag(uri) == ("two", second)
