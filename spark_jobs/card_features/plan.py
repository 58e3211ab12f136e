"""What a chunk reads and which of its days it computes, decided from the lake before any Spark work."""
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

from . import contract, ledger, transform
from .args import JobConfig
from .definitions import FeatureDefinition
from .lake_fs import LakeFs


@dataclass(frozen=True)
class ChunkPlan:
    """What a chunk reads and which of its days it computes."""
    start: dt.date
    end: dt.date
    days: List[str]
    # Bronze arrival partitions read (days, lookback and lateness) that hold data, and their bytes.
    present: List[str]
    input_bytes: int
    coverage_gaps: List[str]
    missing_context: List[str]
    skipped: List[str]
    process: List[str]
    # Each day's current gold location (None: no gold yet).
    current: Dict[str, Optional[str]]
    # Each day's commit record as read now (its etag; None: no commit): the commit replaces only that.
    commit_etags: Dict[str, Optional[str]] = field(default_factory=dict)

    @property
    def existing(self) -> List[str]:
        return [d for d in self.days if self.current[d] is not None]


def day_partition(table: str, day: str) -> str:
    """A day's partition of a table partitioned by `dt` (bronze, silver, quarantine)."""
    return contract.path("day_partition", table=table, dt=day)


def chunks(start: dt.date, end: dt.date, size: int) -> Iterator[Tuple[dt.date, dt.date]]:
    cursor = start
    while cursor <= end:
        last = min(end, cursor + dt.timedelta(days=size - 1))
        yield cursor, last
        cursor = last + dt.timedelta(days=1)


def current_gold(fs: LakeFs, cfg: JobConfig, day: str) -> Tuple[Optional[str], Optional[str]]:
    """(location of the day's current gold, etag of its commit): the commit's location, or files written
    without a ledger (no etag then: the day's first commit must create the record)."""
    read = fs.read_text_with_etag(ledger.commit_path(cfg.ledger_root, cfg.feature_version, day))
    if read is not None:
        return json.loads(read[0]).get("location"), read[1]
    flat = ledger.flat_location(cfg.gold_table, cfg.feature_version, day)
    return (flat if fs.has_data_files(flat) else None), None


def plan_chunk(fs: LakeFs, cfg: JobConfig, definition: FeatureDefinition, start: dt.date, end: dt.date) -> ChunkPlan:
    days = [d.isoformat() for d in transform.date_range(start, end)]
    read_dates = [
        d.isoformat()
        for d in transform.bronze_dates_to_read(start, end, definition.lookback_seconds, cfg.lateness_days)
    ]
    bronze_bytes = {d: fs.data_bytes(day_partition(cfg.bronze_table, d)) for d in read_dates}
    present = [d for d in read_dates if bronze_bytes[d] >= 0]
    coverage_gaps = [d for d in days if d not in present]
    seen = {d: current_gold(fs, cfg, d) for d in days}
    current = {d: seen[d][0] for d in days}
    if cfg.compute_dates is not None:
        skipped = [d for d in days if d not in cfg.compute_dates]
    else:
        skipped = [] if cfg.overwrite else [d for d in days if current[d] is not None]
    return ChunkPlan(
        start=start, end=end, days=days, present=present, input_bytes=sum(bronze_bytes[d] for d in present),
        coverage_gaps=coverage_gaps,
        missing_context=[d for d in read_dates if d not in present and d not in days],
        skipped=skipped,
        # A day without its own bronze partition is a coverage gap: it is reported and not written (its
        # existing gold, if any, is left as it is), so a later run fills it once the bronze is there.
        process=[d for d in days if d not in skipped and d not in coverage_gaps],
        current=current,
        commit_etags={d: seen[d][1] for d in days},
    )
