"""The gold half of the publication ledger: one commit record per (feature version, day).

Gold of a run is written to its own location, `<gold>/feature_version=V/dt=D/run=R/`, never over the
files readers use; the commit record written after the data files says which location is current.
Readers (the catalog, ingestion, validation) follow the record, so a day switches from the old gold to
the new in one write and a failed run leaves the old gold current. That write is conditional
(conditional.py): it replaces only the commit the job read when it planned, so of two jobs racing on
a day one commits and the other stops with LedgerConflict. The record format is documented in
docs/design.md and read by src/activities/ledger.ts.
"""
import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import List, Optional

LEDGER_VERSION = 1


@dataclass(frozen=True)
class GoldCommit:
    dt: str
    feature_version: str
    run_id: str
    # None when the day has no rows (no partition for readers).
    location: Optional[str]
    files: List[str]
    rows: int
    code_revision: str
    fingerprint: str
    committed_at: str
    # Where the day's gold was before this commit (kept for rollback), if anywhere.
    previous_location: Optional[str] = None
    ledger_version: int = LEDGER_VERSION
    job: dict = field(default_factory=dict)
    # The definition-only hash (FeatureDefinition.fingerprint); `fingerprint` also covers the transform code.
    definition_fingerprint: str = ""
    # What the day's gold was built from: bronze files read, job run, Spark settings (job.day_lineage).
    lineage: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def commit_path(ledger_root: str, version: str, day: str) -> str:
    return f"{ledger_root}/gold/card_features/feature_version={version}/dt={day}.json"


def run_location(gold_table: str, version: str, day: str, run_id: str) -> str:
    return f"{gold_table}/feature_version={version}/dt={day}/run={run_id}"


def flat_location(gold_table: str, version: str, day: str) -> str:
    """Where gold written without a ledger (the pipeline we replace) keeps a day's files."""
    return f"{gold_table}/feature_version={version}/dt={day}"


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
