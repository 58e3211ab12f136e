"""Shared fixtures: one local SparkSession for the whole run, and temporary lakes."""
import os
import socket
import subprocess
import sys
import time

import pytest

# Python workers (if Spark ever starts one) use this interpreter, not whatever `python3` is on PATH.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

from card_features import session as job_session  # noqa: E402
from card_features.lake_fs import LakeFs  # noqa: E402

TEST_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
}


@pytest.fixture(scope="session")
def spark():
    """A local[2] session with the job's own settings (card_features.session.SPARK_CONF) plus test sizing."""
    session = job_session.build_spark("card_features_tests", master="local[2]", extra_conf=TEST_SPARK_CONF)
    session.sparkContext.setLogLevel("ERROR")
    for key, value in job_session.SPARK_CONF.items():
        assert session.conf.get(key) == value, key
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path):
    """An empty lake directory; tests write bronze into it with lakeutil.write_bronze."""
    root = tmp_path / "lake"
    root.mkdir()
    return str(root)


@pytest.fixture
def die_while_publishing(monkeypatch):
    """Arm with a day: the job then dies (as a crash would, nothing in it catches this) once the first
    of that day's staged files has been moved into the offline store, the day half moved. The failure
    is injected at the file system (LakeFs.rename), the job's I/O boundary."""

    def arm(day: str) -> None:
        real_rename = LakeFs.rename
        moved = []

        def rename(self, src, dest):
            if f"/dt={day}/" in src:
                if moved:
                    raise RuntimeError(f"the job died midway through the publication of {day}")
                moved.append(dest)
            return real_rename(self, src, dest)

        monkeypatch.setattr(LakeFs, "rename", rename)

    return arm


@pytest.fixture
def s3(monkeypatch):
    """A moto server on a free loopback port, boto3 pointed at it with fake credentials; the bucket `lake`."""
    boto3 = pytest.importorskip("boto3")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    try:
        _until_up(client, server)
        client.create_bucket(Bucket="lake")
        yield client
    finally:
        server.terminate()
        server.wait()


def _until_up(client, server):
    """Wait for moto to answer (it imports its backends first), or fail if it exited."""
    from botocore.exceptions import EndpointConnectionError

    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, "moto_server exited"
        try:
            client.list_buckets()
            return
        except EndpointConnectionError:
            assert time.monotonic() < deadline, "moto_server did not answer in 30 s"
            time.sleep(0.1)
