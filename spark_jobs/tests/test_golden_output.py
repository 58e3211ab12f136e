"""The transform's outputs are those of its declared revision (definitions.json "transform" block).

The build fingerprint every gold commit records hashes the code digests that block declares, not the
live bytes of definitions.py and transform.py, so the code may change (a refactor, a faster plan) as
long as its outputs do not. This test holds it to that: the job's pure transform (parse, quarantine
rows, line counts, dedup, gold of v1 and v2) over a fixed, rich bronze fixture (golden/bronze.jsonl,
made by golden/make_bronze.py) gives canonical rows whose sha256 is the block's `output`.
"""
import datetime as dt
import hashlib
import json
import math
import os
from decimal import Decimal

import pytest

from card_features import definitions, transform
from card_features.definitions import get_definition

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "golden", "bronze.jsonl")
LATENESS_DAYS = 1
# Gold days: the fixture also holds their lookback day (2025-09-30) and a lateness day (2025-10-03).
GOLD_DAYS = ["2025-10-01", "2025-10-02"]

CHANGED = (
    "the transform's output changed (sha256 of the golden rows {got}, declared {declared}). If on purpose, "
    'declare a new revision in definitions.json\'s "transform" block (revision + 1, the new code digests and '
    "this output), which changes every version's build fingerprint (docs/development.md); if not, fix the code."
)


def canonical(value) -> str:
    """One value as typed text, so 1, 1.0 and Decimal('1.00') differ and floats keep every bit."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"bool:{value}"
    if isinstance(value, int):
        return f"int:{value}"
    if isinstance(value, float):
        return f"float:{value.hex() if math.isfinite(value) else value}"
    if isinstance(value, Decimal):
        return f"decimal:{value}"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"date:{value.isoformat()}"
    return f"str:{value}"


def rows_of(table: str, df) -> list:
    """Each row of `df` as one line: the table, then column=value in the frame's column order."""
    return [json.dumps([table, *[f"{c}={canonical(r[c])}" for c in df.columns]]) for r in df.collect()]


def golden_lines(spark) -> list:
    """The canonical output rows of the transform over the fixture, sorted."""
    with open(FIXTURE) as f:
        lines = [tuple(json.loads(line)) for line in f]
    raw = spark.createDataFrame([(text, arrival) for arrival, text in lines], "value string, dt string")
    parsed = transform.parse_bronze(raw, LATENESS_DAYS)
    silver = transform.deduplicate(parsed)
    out = rows_of("silver", silver) + rows_of("quarantine", transform.quarantine_rows(parsed))
    out += rows_of("line_counts", transform.line_counts(parsed))
    for version in ("v1", "v2"):
        out += rows_of(f"gold_{version}", transform.gold_for_days(silver, get_definition(version), GOLD_DAYS))
    return sorted(out)


@pytest.fixture(scope="module")
def golden(spark):
    lines = golden_lines(spark)
    return lines, hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_the_fixture_exercises_every_rule_and_both_versions(golden):
    """A fixture that lost its hard cases would make the digest prove little."""
    lines, _ = golden
    tables = {}
    for line in lines:
        tables.setdefault(json.loads(line)[0], []).append(json.loads(line))
    reasons = {row[3].split("=", 1)[1] for row in tables["quarantine"]}
    for reason in ("not_a_json_object", "malformed_json", "missing_or_invalid:card_id", "missing_or_invalid:amount",
                   "missing_or_invalid:event_time", "empty:card_id", "invalid_status", "invalid_currency",
                   "invalid_amount", "non_positive_amount", "arrived_before_event_date",
                   "arrived_after_allowed_lateness"):
        assert f"str:{reason}" in reasons, reason
    counts = sum(int(row[4].split("=", 1)[1].split(":")[1]) for row in tables["line_counts"] if row[3] == "reason=null")
    assert counts > len(tables["silver"]) + 40  # many duplicates removed
    assert len(tables["gold_v1"]) == len(tables["gold_v2"]) > 300
    assert tables["gold_v1"] != tables["gold_v2"]  # declined events count under v1 only


def test_the_transform_gives_the_declared_golden_output(golden):
    _, got = golden
    declared = definitions.transform_block()["output"]
    assert got == declared, CHANGED.format(got=got, declared=declared)


def test_code_may_differ_from_its_declared_digests_only_with_the_same_output(golden):
    """The build fingerprint rests on the declared digests: live code that differs from them (a refactor,
    a faster plan) is allowed, and only allowed, when its golden output is still the revision's."""
    live, declared = definitions.code_digests(), definitions.declared_code_digests()
    changed = sorted(name for name in declared if live[name] != declared[name])
    _, got = golden
    assert not changed or got == definitions.transform_block()["output"], (
        f"{', '.join(changed)} differ from their declared digests and " + CHANGED.format(
            got=got, declared=definitions.transform_block()["output"]))
