"""Each gold commit records what the day was built from: bronze files, job run, Spark settings, fingerprints."""
import hashlib
import json
import os

from card_features import definitions
from card_features.definitions import get_definition
from lakeutil import bronze_dir, commit, ev, run_backfill, write_bronze

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "..", "card_features")


def test_build_fingerprint_covers_the_definition_and_the_declared_transform_code():
    v1 = get_definition("v1")
    with open(os.path.join(PACKAGE, "definitions.json")) as f:
        raw = json.load(f)
    canonical = json.dumps({"windows": raw["windows_seconds"], "version": raw["versions"]["v1"]}, sort_keys=True)
    # The digests the transform block declares, not the files' bytes (test_golden_output.py holds the code to them).
    digests = [f"{name}:{raw['transform']['code'][name]}" for name in ("definitions.py", "transform.py")]
    expected = hashlib.sha256("\n".join([canonical, *digests]).encode()).hexdigest()[:12]
    assert v1.build_fingerprint == expected
    assert v1.fingerprint == hashlib.sha256(canonical.encode()).hexdigest()[:12]  # definition only, as before
    assert v1.build_fingerprint != get_definition("v2").build_fingerprint
    # Another declared transform revision, another fingerprint.
    assert definitions.build_fingerprint(canonical.encode()) == expected
    assert hashlib.sha256("\n".join([canonical, digests[0], "transform.py:0"]).encode()).hexdigest()[:12] != expected


def test_versions_with_suffixes_are_well_formed():
    for version in ("v1.1", "v1_corrected", "v2.1_fix"):
        assert definitions.VERSION_PATTERN.match(version), version
    for version in ("v1.", "v1__x", "1", "v1-x", "v1/x"):
        assert not definitions.VERSION_PATTERN.match(version), version


def test_gold_commit_records_bronze_inputs_job_and_fingerprints(spark, lake):
    for day in ("2025-10-01", "2025-10-02"):
        write_bronze(lake, day, [ev(f"{day}-a", "C", f"{day}T10:00:00"), ev(f"{day}-b", "D", f"{day}T11:00:00")])
    run_backfill(spark, lake, "2025-10-02", "2025-10-02", "--code-revision", "abc")

    c = commit(lake, "v1", "2025-10-02")
    lineage = c["lineage"]
    v1 = get_definition("v1")
    assert c["fingerprint"] == lineage["fingerprint"] == v1.build_fingerprint
    assert c["definition_fingerprint"] == v1.fingerprint
    assert lineage["code_revision"] == c["code_revision"] and c["code_revision"].startswith("abc+")
    # The day's windows read the day before (24 h lookback), the day, and the lateness day after.
    assert lineage["bronze"]["partitions"] == ["2025-10-01", "2025-10-02", "2025-10-03"]
    files = lineage["bronze"]["files"]
    expected = []
    for day in ("2025-10-01", "2025-10-02"):
        path = os.path.join(bronze_dir(lake, day), "part-00000.json.gz")
        st = os.stat(path)
        expected.append({"path": "file://" + os.path.abspath(path), "size": st.st_size,
                         "mtime": int(st.st_mtime * 1000), "etag": None})
    assert files == expected
    assert lineage["job_run_id"] is None  # not on EMR Serverless
    assert lineage["spark_conf"]["spark.sql.shuffle.partitions"] == "4"
    assert lineage["spark_conf"]["spark.app.id"] == spark.sparkContext.applicationId
    assert lineage["spark_version"] == spark.version
