"""Feature versions live in one place (definitions.json); an unknown version is an error."""
import datetime as dt
import json
import os

import pytest

from card_features import args, definitions, plan, transform
from card_features.definitions import UnknownFeatureVersion, get_definition

HERE = os.path.dirname(os.path.abspath(__file__))


def test_v1_and_v2_are_defined_as_the_design_says():
    v1, v2 = get_definition("v1"), get_definition("v2")
    assert v1.counted_statuses == {"APPROVED", "DECLINED"}
    assert v2.counted_statuses == {"APPROVED"}
    for d in (v1, v2):
        assert (d.window_1h_seconds, d.window_24h_seconds, d.lookback_seconds) == (3600, 86400, 86400)
    assert v1.fingerprint != v2.fingerprint
    assert get_definition("v1").fingerprint == v1.fingerprint  # stable


def test_definitions_json_is_the_single_source():
    with open(os.path.join(HERE, "..", "card_features", "definitions.json")) as f:
        raw = json.load(f)
    assert set(definitions.known_versions()) == set(raw["versions"]) == {"v1", "v2"}


@pytest.mark.parametrize("version", ["v3", "v1.1", "latest", "", "V1", "v1.", "1"])
def test_unknown_or_malformed_version_raises(version):
    with pytest.raises(UnknownFeatureVersion):
        get_definition(version)


@pytest.mark.parametrize("version", ["v9", "latest"])
def test_cli_rejects_unknown_version_naming_the_flag(version):
    with pytest.raises(SystemExit) as exc:
        args.parse_args(["--bucket", "/tmp/x", "--start-date", "2025-10-01", "--end-date", "2025-10-02",
                        "--feature-version", version])
    message = str(exc.value)
    assert "--feature-version" in message and repr(version) in message


def test_cli_validates_dates_and_sizes():
    base = ["--bucket", "/tmp/x"]
    with pytest.raises(SystemExit, match="--end-date"):
        args.parse_args(base + ["--start-date", "2025-10-02", "--end-date", "2025-10-01"])
    with pytest.raises(SystemExit, match="--start-date"):
        args.parse_args(base + ["--start-date", "2025-13-01", "--end-date", "2025-10-01"])
    with pytest.raises(SystemExit, match="--chunk-size-days"):
        args.parse_args(base + ["--start-date", "2025-10-01", "--end-date", "2025-10-01", "--chunk-size-days", "0"])


def test_cli_defaults_and_lake_paths():
    cfg = args.parse_args(["--bucket", "my-bucket", "--start-date", "2025-10-01", "--end-date", "2025-10-03",
                          "--feature-version", "v2"])
    assert cfg.gold_table == "s3://my-bucket/gold/card_features"
    assert cfg.bronze_table == "s3://my-bucket/bronze/streaming/card_authorization"
    assert cfg.feature_group == "rt_card_features_v2"
    assert (cfg.chunk_size_days, cfg.lateness_days, cfg.overwrite) == (1, 1, False)
    assert args.parse_args(["--bucket", "/data/lake", "--start-date", "2025-10-01",
                           "--end-date", "2025-10-01"]).lake_root == "file:///data/lake"


def test_bronze_partitions_a_chunk_reads():
    d = dt.date
    assert transform.bronze_dates_to_read(d(2025, 10, 5), d(2025, 10, 7), 86400, 1) == [
        d(2025, 10, 4), d(2025, 10, 5), d(2025, 10, 6), d(2025, 10, 7), d(2025, 10, 8)]
    assert transform.bronze_dates_to_read(d(2025, 10, 5), d(2025, 10, 5), 86400, 2)[-1] == d(2025, 10, 7)
    assert transform.bronze_dates_to_read(d(2025, 10, 5), d(2025, 10, 5), 86401, 0)[0] == d(2025, 10, 3)
    assert list(plan.chunks(d(2025, 10, 1), d(2025, 10, 10), 4)) == [
        (d(2025, 10, 1), d(2025, 10, 4)), (d(2025, 10, 5), d(2025, 10, 8)), (d(2025, 10, 9), d(2025, 10, 10))]
