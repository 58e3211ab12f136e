"""A chunk's manifest: what it read, skipped, wrote and counted. `to_json` is the file the orchestrator
reads (src/common/results.ts, `SparkManifest`)."""
import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import Dict, List, Optional

from . import contract
from .args import JobConfig
from .definitions import FeatureDefinition
from .plan import ChunkPlan
from .steps import ChunkResult


@dataclass
class Manifest:
    feature_group: str
    feature_version: str
    # {"fingerprint", "description"} of the version's definition entry.
    feature_definition: Dict[str, str]
    # Definition plus transform code: what the gold commits record and the definition-change guard compares.
    fingerprint: str
    code_revision: str
    start_date: str
    end_date: str
    overwrite: bool
    allowed_lateness_days: int
    gold_table: str
    run_id: str
    spark_version: str
    coverage_gaps: List[str]
    missing_context_partitions: List[str]
    skipped_partitions: List[str]
    processed_partitions: List[str]
    bronze_partitions_read: List[str] = field(default_factory=list)
    written_partitions: List[str] = field(default_factory=list)
    overwritten_partitions: List[str] = field(default_factory=list)
    deleted_partitions: List[str] = field(default_factory=list)
    rows_read: int = 0
    input_rows: int = 0
    input_rows_per_dt: Dict[str, int] = field(default_factory=dict)
    quarantined_rows: int = 0
    quarantined_rows_per_dt: Dict[str, int] = field(default_factory=dict)
    quarantine_reasons: Dict[str, int] = field(default_factory=dict)
    # Valid lines of the processed days' events that were further copies of an event_id.
    duplicates_removed: int = 0
    output_rows: int = 0
    output_rows_per_dt: Dict[str, int] = field(default_factory=dict)
    duplicate_event_ids_in_output: int = 0
    min_event_time: Optional[int] = None
    max_event_time: Optional[int] = None
    duration_seconds: float = 0.0
    # Only when days were processed: wall seconds per phase, and the ledger commit of each day.
    phase_seconds: Optional[Dict[str, float]] = None
    commits: Optional[Dict[str, Dict]] = None
    # Only when the job published days to the offline store (offline_publish.py): what it published.
    offline_publication: Optional[Dict] = None
    # Set by `run` when the manifest is written.
    manifest_path: Optional[str] = None

    def to_json(self) -> Dict:
        out = asdict(self)
        for key in ("phase_seconds", "commits", "offline_publication", "manifest_path"):
            if out[key] is None:
                del out[key]
        return out


def new_manifest(cfg: JobConfig, definition: FeatureDefinition, plan: ChunkPlan, revision: str,
                 spark_version: str) -> Manifest:
    zeros = {d: 0 for d in plan.process}
    return Manifest(
        feature_group=cfg.feature_group, feature_version=cfg.feature_version,
        feature_definition={"fingerprint": definition.fingerprint, "description": definition.description},
        fingerprint=definition.build_fingerprint, code_revision=revision,
        start_date=plan.start.isoformat(), end_date=plan.end.isoformat(), overwrite=cfg.overwrite,
        allowed_lateness_days=cfg.lateness_days, gold_table=cfg.gold_table, run_id=cfg.run_id,
        spark_version=spark_version, coverage_gaps=plan.coverage_gaps,
        missing_context_partitions=plan.missing_context, skipped_partitions=plan.skipped,
        processed_partitions=plan.process, input_rows_per_dt=dict(zeros), quarantined_rows_per_dt=dict(zeros),
        output_rows_per_dt=dict(zeros),
    )


def with_results(manifest: Manifest, plan: ChunkPlan, result: ChunkResult) -> Manifest:
    """The manifest with the counts and partitions of a computed chunk."""
    counts, rows = result.counts, result.stats.rows
    written = [d for d in plan.process if rows[d] > 0]
    existing = plan.existing
    output_rows = sum(rows.values())
    return replace(
        manifest,
        bronze_partitions_read=plan.present,
        rows_read=counts.rows_read,
        input_rows=sum(counts.input_per_dt.values()),
        input_rows_per_dt=counts.input_per_dt,
        quarantined_rows=sum(counts.bad_per_dt.values()),
        quarantined_rows_per_dt=counts.bad_per_dt,
        quarantine_reasons=counts.reasons,
        output_rows=output_rows,
        output_rows_per_dt=rows,
        duplicates_removed=sum(counts.valid_per_event_dt.values()) - output_rows,
        written_partitions=written,
        overwritten_partitions=[d for d in plan.process if d in existing and d in written],
        deleted_partitions=[d for d in plan.process if rows[d] == 0 and d in existing],
        min_event_time=result.stats.min_t,
        max_event_time=result.stats.max_t,
        phase_seconds=result.phase_seconds,
    )


def manifest_path(cfg: JobConfig, start: dt.date, end: dt.date) -> str:
    """Where a sub-chunk's manifest goes when the caller names none."""
    return contract.path("chunk_manifest", manifest_dir=cfg.manifest_dir, version=cfg.feature_version,
                         chunk=f"{start.isoformat()}_{end.isoformat()}")
