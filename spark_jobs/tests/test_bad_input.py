"""Bad data and refusing storage are named, not guessed: which file, which day, what is wrong, in plain words."""
import gzip
import json
import os
import subprocess

import pytest

import reference
from card_features import failures, job
from lakeutil import bronze_dir, ev, gold_partitions, gold_rows, read_table, run_backfill, write_bronze


def _args(lake, start, end, error_path):
    return ["--bucket", lake, "--start-date", start, "--end-date", end, "--error-path", error_path]


def _record(path):
    with open(path) as f:
        return json.load(f)


def _truncate(path):
    """Cut a gzip file in half, as an interrupted upload would."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def test_unreadable_bronze_files_are_named_with_their_dt_and_reason_then_a_fixed_lake_runs(spark, lake, tmp_path, capsys):
    # Enough lines that half a gzip file holds whole deflate blocks and a valid header.
    many = [ev(f"t{i}", f"C{i % 7}", "2025-10-02T10:00:00", 1.0 + i) for i in range(3000)]
    write_bronze(lake, "2025-10-01", [ev("a", "C", "2025-10-01T10:00:00")])
    tiny = os.path.join(bronze_dir(lake, "2025-10-01"), "part-tiny.json.gz")  # shorter than a gzip header
    with open(tiny, "w") as f:
        f.write('{"a":1}\n')
    for i in range(5):  # the truncated file hides among good ones: found by bisection
        write_bronze(lake, "2025-10-02", [ev(f"g{i}", "C", "2025-10-02T11:00:00")], name=f"part-0000{i}.json.gz")
    truncated = write_bronze(lake, "2025-10-02", many, name="part-00003-big.json.gz")
    _truncate(truncated)
    # 10-03 is read only for the lateness of 10-02; a plain-text file named .gz sits there
    not_gzip = os.path.join(bronze_dir(lake, "2025-10-03"), "part-00000.json.gz")
    os.makedirs(os.path.dirname(not_gzip))
    with open(not_gzip, "w") as f:
        f.write(json.dumps(ev("late", "C", "2025-10-02T23:00:00")) + "\n")
    error_path = str(tmp_path / "errors" / "chunk.error.json")

    assert job.main(_args(lake, "2025-10-02", "2025-10-02", error_path), spark=spark) == 2

    record = _record(error_path)
    assert record == {"type": "BadInput", "files": [
        {"uri": "file://" + tiny, "dt": "2025-10-01", "reason": "the file is not gzip data, although its name ends in .gz"},
        {"uri": "file://" + truncated, "dt": "2025-10-02",
         "reason": "the gzip data ends early: the file is truncated (an upload cut short?)"},
        {"uri": "file://" + not_gzip, "dt": "2025-10-03",
         "reason": "the file is not gzip data, although its name ends in .gz"},
    ]}
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("card_features error: ")]
    assert f"bronze file file://{truncated} (dt=2025-10-02) cannot be read: the gzip data ends early" in line
    assert gold_partitions(lake) == []  # nothing half-written

    # The files are replaced: the rerun succeeds and the stale record is gone.
    write_bronze(lake, "2025-10-02", many, name="part-00003-big.json.gz")
    os.remove(tiny)
    with gzip.open(not_gzip, "wt") as f:
        f.write(json.dumps(ev("late", "C", "2025-10-02T23:00:00")) + "\n")
    assert job.main(_args(lake, "2025-10-02", "2025-10-02", error_path), spark=spark) == 0
    assert not os.path.exists(error_path)
    assert len(gold_rows(spark, lake, "v1")) == 3000 + 5 + 1


def test_empty_ids_and_non_positive_amounts_are_quarantined_with_their_reason(spark, lake):
    t = "2025-10-01T10:00:00"
    bad = [
        (ev("", "C", t), "empty:event_id"),
        (ev("   ", "C", t), "empty:event_id"),
        (ev("no_card", "", t), "empty:card_id"),
        (ev("tab_card", "\t ", t), "empty:card_id"),
        (ev("no_merchant", "C", t, merchant_id=""), "empty:merchant_id"),
        (ev("negative", "C", t, -5.00), "non_positive_amount"),
        (ev("zero", "C", t, 0), "non_positive_amount"),
        (ev("rounds_to_zero", "C", t, 0.004), "non_positive_amount"),
    ]
    good = [ev("ok", "C", t, 12.5), ev("cent", "C", "2025-10-01T10:05:00", 0.005),  # 0.005 rounds up to 0.01
            ev("spaced", " C ", t, 1.0, merchant_id=" m ")]  # padded ids are still ids
    write_bronze(lake, "2025-10-01", good + [line for line, _ in bad])

    (m,) = run_backfill(spark, lake, "2025-10-01", "2025-10-01")

    g = gold_rows(spark, lake, "v1")
    assert sorted(g) == ["cent", "ok", "spaced"]
    assert g["cent"]["amount_sum_24h"] == 12.51 and g["cent"]["txn_count_24h"] == 2
    quarantine = read_table(spark, os.path.join(lake, "quarantine", "card_authorization"))
    assert quarantine == sorted(("2025-10-01", json.dumps(line), reason) for line, reason in bad)
    assert m["quarantine_reasons"] == {"empty:card_id": 2, "empty:event_id": 2, "empty:merchant_id": 1,
                                       "non_positive_amount": 3}
    # The brute-force reference applies the same rules.
    expected = reference.gold(reference.silver(reference.read_bronze(lake)), "v1", "2025-10-01", "2025-10-01")
    assert sorted(e for e, _ in expected) == sorted(g)


def test_a_file_where_the_gold_directory_should_be_is_a_named_storage_error(spark, lake, tmp_path):
    write_bronze(lake, "2025-10-01", [ev("a", "C", "2025-10-01T10:00:00")])
    os.makedirs(os.path.join(lake, "gold"))
    with open(os.path.join(lake, "gold", "card_features"), "w") as f:
        f.write("not a directory")
    error_path = str(tmp_path / "chunk.error.json")

    assert job.main(_args(lake, "2025-10-01", "2025-10-01", error_path), spark=spark) == 2

    assert _record(error_path) == {
        "type": "StorageError", "path": f"file://{lake}/gold/card_features",
        "reason": "a file is in the way where a directory is needed", "retryable": False,
    }


def _make_read_only(path):
    """chmod for a normal user; root ignores modes, so as root the immutable attribute (chattr +i)."""
    os.chmod(path, 0o555)
    if os.getuid() == 0:
        subprocess.run(["chattr", "+i", path], check=True)
    probe = os.path.join(path, ".probe")
    with pytest.raises(OSError):
        open(probe, "w").close()


def _make_writable(path):
    if os.getuid() == 0:
        subprocess.run(["chattr", "-i", path], check=True)
    os.chmod(path, 0o755)


def test_a_read_only_gold_directory_is_a_named_storage_error(spark, lake, tmp_path):
    write_bronze(lake, "2025-10-01", [ev("a", "C", "2025-10-01T10:00:00")])
    gold = os.path.join(lake, "gold", "card_features")
    os.makedirs(gold)
    error_path = str(tmp_path / "chunk.error.json")
    _make_read_only(gold)
    try:
        assert job.main(_args(lake, "2025-10-01", "2025-10-01", error_path), spark=spark) == 2
    finally:
        _make_writable(gold)

    record = _record(error_path)
    assert (record["type"], record["retryable"]) == ("StorageError", False)
    assert record["path"].startswith(f"file://{gold}/")
    assert "read-only" in record["reason"] and f"file://{gold}" in record["reason"]


# --- The classification itself, on the texts Hadoop and the S3 connectors produce. ---

@pytest.mark.parametrize("text, path, reason, retryable", [
    ("java.nio.file.AccessDeniedException: s3a://lake/gold/card_features/x.parquet: getFileStatus on "
     "s3a://lake/gold/card_features/x.parquet: com.amazonaws.services.s3.model.AmazonS3Exception: Forbidden "
     "(Service: Amazon S3; Status Code: 403; Error Code: 403 Forbidden)",
     "s3a://lake/gold/card_features/x.parquet", "access denied by S3 (403): the job's role may not use this path", False),
    ("java.io.IOException: write failed on file:/data/lake/gold/card_features/part-1.parquet\n"
     "Caused by: java.io.IOException: No space left on device",
     "file:///data/lake/gold/card_features/part-1.parquet", "no space left on the device", True),
    ("java.io.FileNotFoundException: /mnt/lake/silver/x.parquet (Read-only file system)",
     "file:///mnt/lake/silver/x.parquet", "the file system is read-only", False),
])
def test_storage_errors_are_told_in_plain_words(text, path, reason, retryable):
    record = failures.storage_error(RuntimeError(text))
    assert record == {"type": "StorageError", "path": path, "reason": reason, "retryable": retryable}


def test_other_failures_are_not_named_storage_or_bad_input():
    text = "org.apache.spark.SparkException: Job aborted: java.lang.OutOfMemoryError: Java heap space"
    assert failures.storage_error(RuntimeError(text)) is None
    assert failures.read_error_reason(text) is None


def test_bisection_finds_every_bad_file_and_raises_on_other_errors():
    files = [f"file:///b/dt=2025-10-01/part-{i:02d}.gz" for i in range(16)]
    bad = {files[5]: "java.io.EOFException: Unexpected end of input stream", files[11]: "java.io.IOException: not a gzip file"}
    calls = []

    def read_error(group):
        calls.append(group)
        errors = [bad[f] for f in group if f in bad]
        return errors[0] if errors else None

    found = failures.find_unreadable_files({"2025-10-01": files, "2025-10-02": []}, read_error)
    assert [(f["uri"], f["dt"]) for f in found] == [(files[5], "2025-10-01"), (files[11], "2025-10-01")]
    assert len(calls) < len(files)  # not one read per file
    with pytest.raises(RuntimeError, match="other than its data"):
        failures.find_unreadable_files({"2025-10-01": files}, lambda group: "java.net.SocketTimeoutException")
