"""The gold half of the publication ledger: one commit record per (feature version, day).

Gold of a run is written to its own location, `<gold>/feature_version=V/dt=D/run=R/`, never over the
files readers use; the commit record written after the data files says which location is current.
Readers (the catalog, ingestion, validation) follow the record, so a day switches from the old gold to
the new in one write and a failed run leaves the old gold current. That write is conditional
(conditional.py): it replaces only the commit the job read when it planned, so of two jobs racing on
a day one commits and the other stops with LedgerConflict. The record's paths and fields are in
contract.json, which src/activities/ledger/records.ts reads too (docs/design.md).
"""
import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional

from . import contract, transform

if TYPE_CHECKING:  # steps imports plan, which imports this module
    from .steps import ChunkContext

LEDGER_VERSION = contract.LEDGER_VERSION


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
    # What the day's gold was built from: bronze files read, job run, Spark settings (day_bronze_inputs).
    lineage: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        return {f: out[f] for f in contract.GOLD_COMMIT_FIELDS}


def commit_path(ledger_root: str, version: str, day: str) -> str:
    return contract.path("gold_commit", ledger_root=ledger_root, version=version, dt=day)


def run_location(gold_table: str, version: str, day: str, run_id: str) -> str:
    return contract.path("gold_run", gold_table=gold_table, version=version, dt=day, run_id=run_id)


def flat_location(gold_table: str, version: str, day: str) -> str:
    """Where gold written without a ledger (the pipeline we replace) keeps a day's files."""
    return contract.path("gold_partition", gold_table=gold_table, version=version, dt=day)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_bronze_inputs(fs, cfg, definition, day: str) -> Dict:
    """The bronze a day's gold depends on: its arrival partitions, lookback and lateness ones included.

    Every partition the day's windows can read is named (`partitions`, present or not, so one added
    later is noticed), with its data files' sizes, modification times and, where the file system gives
    them (S3A), ETags: `backfill check` compares these with the lake to find days built from stale input.
    """
    d = dt.date.fromisoformat(day)
    dates = [x.isoformat() for x in transform.bronze_dates_to_read(d, d, definition.lookback_seconds, cfg.lateness_days)]
    files = []
    for p in dates:
        files.extend(fs.file_statuses(contract.path("day_partition", table=cfg.bronze_table, dt=p)))
    return {"partitions": dates, "files": files}


def commit_days(ctx: "ChunkContext", rows: Dict[str, int], lineage: Dict) -> Dict[str, Dict]:
    """After the data files are written, make them current: one commit record per processed day, each
    replacing only the commit the plan read (LedgerConflict, and nothing written, if it changed).
    `lineage`: the job's run and settings with its code_revision (session.job_lineage)."""
    fs, cfg, definition, plan = ctx.fs, ctx.cfg, ctx.definition, ctx.plan
    commits, current, revision = {}, plan.current, lineage["code_revision"]
    for d in plan.process:
        location = run_location(cfg.gold_table, cfg.feature_version, d, cfg.run_id) if rows[d] > 0 else None
        commit = GoldCommit(
            dt=d, feature_version=cfg.feature_version, run_id=cfg.run_id, location=location,
            files=fs.data_files(location) if location else [], rows=rows[d], code_revision=revision,
            fingerprint=definition.build_fingerprint, definition_fingerprint=definition.fingerprint,
            committed_at=now_iso(),
            lineage={**lineage, "fingerprint": definition.build_fingerprint,
                     "bronze": day_bronze_inputs(fs, cfg, definition, d)},
            previous_location=current[d] if current[d] != location else None,
            job={"feature_group": cfg.feature_group, "start_date": cfg.start.isoformat(), "end_date": cfg.end.isoformat()},
        ).to_json()
        etag = plan.commit_etags.get(d)
        fs.write_text_if(commit_path(cfg.ledger_root, cfg.feature_version, d),
                         json.dumps(commit, indent=2, sort_keys=True), if_match=etag, if_none_match=etag is None)
        commits[d] = commit
    return commits
