"""Out-of-memory failures are named for the orchestrator's memory ladder (no Spark needed)."""
import json

from card_features import failures


class FakeJavaError(Exception):
    """Stands in for a Py4JJavaError: its text carries the Java stack trace."""


def test_describe_names_a_java_out_of_memory_error():
    exc = FakeJavaError("An error occurred while calling o123.allocate.\n: java.lang.OutOfMemoryError: Java heap space\n"
                        "\tat java.base/java.nio.HeapByteBuffer.<init>(HeapByteBuffer.java:64)")
    record = failures.describe(spark=None, cfg=None, exc=exc)
    assert record == {"type": "OutOfMemory", "signature": "java.lang.OutOfMemoryError: Java heap space"}
    assert failures.message(record) == "out of memory: java.lang.OutOfMemoryError: Java heap space"


def test_executor_killed_for_memory_is_out_of_memory_too():
    text = ("Job aborted due to stage failure: ExecutorLostFailure (executor 7 exited caused by one of the running "
            "tasks) Reason: Container killed by YARN for exceeding memory limits. 9.1 GB of 9 GB physical memory used")
    assert failures.out_of_memory_signature(text).startswith("Container killed by YARN for exceeding memory limits")


def test_other_failures_are_not_out_of_memory():
    assert failures.out_of_memory_signature("java.io.EOFException: Unexpected end of input stream") is None
    assert failures.describe(spark=None, cfg=None, exc=PermissionError(13, "Permission denied", "/lake/x"))["type"] \
        == "StorageError"


def test_report_writes_the_record_for_the_orchestrator(capsys):
    written = {}
    failures.report(lambda p, t: written.update({p: t}), "file:///lake/err.json",
                    {"type": "OutOfMemory", "signature": "java.lang.OutOfMemoryError: GC overhead limit exceeded"})
    assert json.loads(written["file:///lake/err.json"])["type"] == "OutOfMemory"
    assert "card_features error: out of memory: java.lang.OutOfMemoryError: GC overhead limit exceeded" in \
        capsys.readouterr().err
