"""The job's side of contract.json: its records, frames and paths take their shape from it."""
import dataclasses

import pytest

from card_features import contract, ledger, offline_publish, transform
from card_features.definitions import get_definition
from lakeutil import ev
from test_transform import silver_df


def test_the_transform_writes_the_contract_gold_columns():
    # transform.py keeps its own literal lists: its bytes are the build fingerprint, which a move of the
    # lists into the contract would change for every existing lake. This keeps the two from drifting.
    assert transform.FEATURE_COLUMNS == contract.FEATURE_COLUMNS
    assert transform.GOLD_COLUMNS == contract.GOLD_COLUMNS


def test_gold_commit_record_has_the_contract_fields_in_order():
    commit = ledger.GoldCommit(dt="2025-10-01", feature_version="v1", run_id="r", location=None, files=[], rows=0,
                               code_revision="c", fingerprint="f", committed_at="t")
    assert [f.name for f in dataclasses.fields(ledger.GoldCommit)] == contract.GOLD_COMMIT_FIELDS
    assert list(commit.to_json()) == contract.GOLD_COMMIT_FIELDS
    assert commit.ledger_version == contract.LEDGER_VERSION


def test_gold_and_offline_frames_have_the_contract_columns_and_types(spark):
    silver = silver_df(spark, [ev("e1", "C", "2025-10-01T10:00:00")])
    gold = transform.gold_for_days(silver, get_definition("v1"), ["2025-10-01"])
    assert gold.columns == contract.GOLD_COLUMNS
    types = dict(gold.dtypes)
    assert {c: types[c] for c in contract.GOLD_FILE_TYPES} == contract.GOLD_FILE_TYPES
    offline = offline_publish.offline_frame(gold, "v1", keep=("dt",))
    assert offline.columns == contract.OFFLINE_STORE_COLUMNS + ["dt"]


def test_a_path_template_needs_every_value():
    assert contract.path("day_partition", table="s3://b/t", dt="2025-10-01") == "s3://b/t/dt=2025-10-01"
    with pytest.raises(KeyError, match=r"gold_commit.*\{dt\}"):
        contract.path("gold_commit", ledger_root="s3://b/_ledger", version="v1")


def test_every_record_feature_has_a_feature_store_type_and_one_without_is_refused(monkeypatch):
    assert list(contract.FEATURE_STORE_TYPES) == contract.RECORD_FEATURES
    assert set(contract.FEATURE_STORE_TYPES.values()) <= {"String", "Integral", "Fractional"}
    untyped = {"name": "new_feature", "type": "int"}
    monkeypatch.setattr(contract, "_SCHEMAS", {**contract._SCHEMAS, "features": [*contract._SCHEMAS["features"], untyped]})
    with pytest.raises(ValueError, match="feature new_feature needs a feature_store_type"):
        contract._feature_store_types()
