"""The backfill job's I/O: arguments, lake paths, Hadoop FileSystem calls, writes and the manifest.

Paths go through Hadoop's FileSystem API, so the same code runs on a local lake directory and on
S3 (EMR Serverless); nothing here assumes a local disk.
"""
import argparse
import datetime as dt
import hashlib
import inspect
import json
import os
import re
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Dict, List, Optional, Tuple

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from . import conditional, definitions, failures, lake_fs, ledger, offline_publish, transform
from .definitions import FeatureDefinition, get_definition
from .lake_fs import LakeFs


@dataclass(frozen=True)
class JobConfig:
    lake_root: str
    bronze_table: str
    silver_table: str
    gold_table: str
    quarantine_table: str
    manifest_dir: str
    feature_group: str
    start: dt.date
    end: dt.date
    feature_version: str
    chunk_size_days: int
    overwrite: bool
    lateness_days: int
    code_label: str
    manifest_path: Optional[str]
    # Gold of this run goes to run=<run_id> locations; the ledger's commit records make it current.
    run_id: str = "local"
    ledger_root: str = ""
    # Days the caller (the workflow, from the ledger) wants computed; None: decide from what exists.
    compute_dates: Optional[List[str]] = None
    # Days to publish to the offline store from the job (offline_publish.py), and the store.
    offline_publish_dates: Optional[List[str]] = None
    offline_store: str = ""
    # This job attempt (one process running the job): names the staging and temporaries only it may delete.
    attempt_id: str = field(default_factory=lambda: f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}")


def lake_root(bucket: str) -> str:
    """`--bucket` is an S3 bucket name, a URI (s3://, file://) or a local directory."""
    if "://" in bucket:
        return bucket.rstrip("/")
    if bucket.startswith(("/", ".", "~")):
        return "file://" + os.path.abspath(os.path.expanduser(bucket))
    return f"s3://{bucket}"


def _date(text: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"{flag}: {text!r} is not a date in YYYY-MM-DD form")


def parse_args(argv: List[str]) -> JobConfig:
    p = argparse.ArgumentParser(description="Recompute card features for a date range.")
    p.add_argument("--bucket", required=True, help="lake root: S3 bucket, s3:// or file:// URI, or local directory")
    p.add_argument("--bronze-prefix", default="bronze/streaming")
    p.add_argument("--silver-prefix", default="silver")
    p.add_argument("--gold-prefix", default="gold")
    p.add_argument("--quarantine-prefix", default="quarantine")
    p.add_argument("--manifest-prefix", default="_manifests")
    p.add_argument("--manifest-path", help="where to write the manifest (default: under --manifest-prefix)")
    p.add_argument("--feature-group", default=None)
    p.add_argument("--start-date", required=True)
    p.add_argument("--end-date", required=True)
    p.add_argument("--feature-version", default="v1")
    p.add_argument("--chunk-size-days", type=int, default=1)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--allowed-lateness-days", type=int, default=1)
    p.add_argument("--code-revision", default="", help="label of the deployed code (e.g. git commit)")
    p.add_argument("--run-id", default=None, help="id of the backfill run; gold goes to run=<id> locations")
    p.add_argument("--ledger-prefix", default="_ledger")
    p.add_argument("--compute-dates", default=None,
                   help="comma-separated days to compute (the others are kept); default: days without gold, "
                        "or every day with --overwrite")
    p.add_argument("--offline-publish-dates", default=None,
                   help="comma-separated days whose committed gold the job writes to the offline store")
    p.add_argument("--offline-store", default=None,
                   help="local:<uri> (the offline store's layout) or sagemaker:<feature group ARN> (the connector)")
    a = p.parse_args(argv)

    start, end = _date(a.start_date, "--start-date"), _date(a.end_date, "--end-date")
    if end < start:
        raise SystemExit(f"--end-date {end} is before --start-date {start}")
    if a.chunk_size_days < 1:
        raise SystemExit(f"--chunk-size-days must be at least 1, got {a.chunk_size_days}")
    if a.allowed_lateness_days < 0:
        raise SystemExit("--allowed-lateness-days must not be negative")
    try:
        get_definition(a.feature_version)
    except definitions.UnknownFeatureVersion as e:
        raise SystemExit(f"--feature-version: {e}")
    root = lake_root(a.bucket)
    run_id = a.run_id or f"direct-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if not all(c.isalnum() or c in "-_" for c in run_id):
        raise SystemExit(f"--run-id: {run_id!r} may hold only letters, digits, - and _")
    default_group = f"rt_card_features_{a.feature_version.replace('.', '_')}"
    compute = None
    if a.compute_dates is not None:
        compute = [d for d in a.compute_dates.split(",") if d]
        for d in compute:
            _date(d, "--compute-dates")
    return JobConfig(
        lake_root=root,
        bronze_table=f"{root}/{a.bronze_prefix.strip('/')}/card_authorization",
        silver_table=f"{root}/{a.silver_prefix.strip('/')}/card_authorization",
        gold_table=f"{root}/{a.gold_prefix.strip('/')}/card_features",
        quarantine_table=f"{root}/{a.quarantine_prefix.strip('/')}/card_authorization",
        manifest_dir=f"{root}/{a.manifest_prefix.strip('/')}/card_features",
        feature_group=a.feature_group or default_group,
        start=start,
        end=end,
        feature_version=a.feature_version,
        chunk_size_days=a.chunk_size_days,
        overwrite=a.overwrite,
        lateness_days=a.allowed_lateness_days,
        code_label=a.code_revision,
        manifest_path=a.manifest_path,
        run_id=run_id,
        ledger_root=f"{root}/{a.ledger_prefix.strip('/')}",
        compute_dates=compute,
        **offline_publish.parse_args(a, root, _date, a.feature_group or default_group),
    )


def code_revision(label: str) -> str:
    """A hash of this job's own source, so a manifest names exactly the code that produced it."""
    digest = hashlib.sha256()
    for module in (definitions, ledger, transform, lake_fs, conditional, sys.modules[__name__]):
        digest.update(inspect.getsource(module).encode())
    sha = digest.hexdigest()[:12]
    return f"{label}+{sha}" if label else sha


# Session settings the job relies on; tests and the benchmark build their sessions from the same dict.
SPARK_CONF = {
    # Overwrite replaces only the (feature_version, dt) partitions present in the written frame.
    # (Each write also passes this as an option, so a session configured otherwise is still safe.)
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Keep `dt=YYYY-MM-DD` a string, as the contract writes it.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    # The job caches the parsed input and the deduplicated events of a chunk. Uncompressed columnar
    # cache: building the compressed one costs about as much CPU as parsing the JSON in the first place.
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}


# Input (compressed bronze bytes) from which a chunk read in few partitions is spread over the cores.
SPREAD_INPUT_BYTES = 8 * 1024 * 1024
# Target size of a partition of deduplicated events (rows), for the dedup shuffle.
ROWS_PER_PARTITION = 500_000


def build_spark(app_name: str = "backfill_features", master: Optional[str] = None,
                extra_conf: Optional[Dict[str, str]] = None) -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in {**SPARK_CONF, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _partition(table: str, dt_value: str, version: Optional[str] = None) -> str:
    prefix = f"{table}/feature_version={version}" if version else table
    return f"{prefix}/dt={dt_value}"


def _write_partitioned(df: DataFrame, table: str, partition_cols: List[str]) -> None:
    """Replace exactly the partitions present in `df` (a few files each: one per task holding rows of it).

    Dynamic partition overwrite stages the output and swaps whole partitions at commit, so a failed
    job leaves the previous partitions as they were. The mode is passed on the writer itself: with
    Spark's default (static) mode this write would delete every other partition of the table.
    """
    # At most one writing task per core: no flood of tiny files (and file commits) when the frame
    # has many small partitions, e.g. when it comes from a cached shuffle output.
    tasks = max(1, df.sparkSession.sparkContext.defaultParallelism)
    (
        df.coalesce(tasks)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(*partition_cols)
        .parquet(table)
    )


@dataclass
class Manifest:
    """A chunk's manifest: what it read, skipped, wrote and counted. `to_json` is the file the
    orchestrator reads (src/common/results.ts, `SparkManifest`)."""
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


@dataclass(frozen=True)
class ChunkPlan:
    """What a chunk reads and which of its days it computes, decided from the lake before any Spark work."""
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


@dataclass(frozen=True)
class ChunkContext:
    """Everything the compute steps of one chunk need."""
    spark: SparkSession
    fs: LakeFs
    cfg: JobConfig
    definition: FeatureDefinition
    plan: ChunkPlan


@dataclass(frozen=True)
class LineCounts:
    """The manifest's line counts, all derived from one aggregate (transform.line_counts)."""
    rows_read: int
    input_per_dt: Dict[str, int]
    bad_per_dt: Dict[str, int]
    reasons: Dict[str, int]
    # Valid lines by event date, for the processed days (before dedup).
    valid_per_event_dt: Dict[str, int]
    # Valid lines dated in the chunk's days or lookback: the events the dedup reads.
    in_scope_rows: int


@dataclass(frozen=True)
class OutputStats:
    """Rows written per processed day and the event-time range, observed during the writes."""
    rows: Dict[str, int]
    min_t: Optional[int] = None
    max_t: Optional[int] = None


@dataclass(frozen=True)
class ChunkResult:
    """What computing a chunk's days found and wrote."""
    counts: LineCounts
    stats: OutputStats
    phase_seconds: Dict[str, float]


def plan_chunk(fs: LakeFs, cfg: JobConfig, definition: FeatureDefinition, start: dt.date, end: dt.date) -> ChunkPlan:
    days = [d.isoformat() for d in transform.date_range(start, end)]
    read_dates = [
        d.isoformat()
        for d in transform.bronze_dates_to_read(start, end, definition.lookback_seconds, cfg.lateness_days)
    ]
    bronze_bytes = {d: fs.data_bytes(_partition(cfg.bronze_table, d)) for d in read_dates}
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


def _new_manifest(cfg: JobConfig, definition: FeatureDefinition, plan: ChunkPlan, revision: str,
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


def run_chunk(spark: SparkSession, fs: LakeFs, cfg: JobConfig, start: dt.date, end: dt.date,
              revision: str) -> Manifest:
    """Compute and write the gold (and silver, quarantine) partitions of the days [start, end].

    Reads the arrival partitions of those days plus the lookback and lateness partitions around them,
    writes only partitions of its own days, commits each processed day's gold in the ledger, and
    returns the chunk's manifest.
    """
    started = time.time()
    definition: FeatureDefinition = get_definition(cfg.feature_version)
    plan = plan_chunk(fs, cfg, definition, start, end)
    manifest = _new_manifest(cfg, definition, plan, revision, spark.version)
    if plan.process:
        result = _compute_and_write(ChunkContext(spark, fs, cfg, definition, plan))
        manifest = with_results(manifest, plan, result)
        # The gold files are complete: make them current, one ledger commit per processed day.
        manifest.commits = _commit_days(fs, cfg, definition, plan, manifest.output_rows_per_dt, revision,
                                        _job_lineage(spark))
    if cfg.offline_publish_dates:
        manifest.offline_publication = offline_publish.publish_days(
            spark, fs, cfg, [d for d in plan.days if d in cfg.offline_publish_dates])
    manifest.duration_seconds = round(time.time() - started, 3)
    return manifest


class _PhaseClock:
    """Wall seconds of the job's phases, for the manifest's phase_seconds."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self._last = time.time()

    def mark(self, name: str) -> None:
        now = time.time()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now


def _compute_and_write(ctx: ChunkContext) -> ChunkResult:
    """Parse the chunk's bronze, write quarantine, silver and gold; return the counts and row stats."""
    clock = _PhaseClock()
    parsed = _read_parsed(ctx).persist()
    try:
        # One pass over the input (it also fills the cache): every line count of the manifest.
        counts = summarize_line_counts(transform.line_counts(parsed).collect(), ctx.plan.process,
                                       _lookback_day(ctx), ctx.plan.end.isoformat())
        clock.mark("parse_and_count")
        if any(counts.bad_per_dt.values()):
            quarantine = transform.quarantine_rows(parsed).where(F.col("dt").isin(*ctx.plan.process))
            _write_partitioned(quarantine, ctx.cfg.quarantine_table, ["dt"])
            clock.mark("quarantine_write")
        # No valid event on the processed days: nothing to write (and no empty write to observe).
        stats = OutputStats({d: 0 for d in ctx.plan.process})
        if sum(counts.valid_per_event_dt.values()) > 0:
            stats = _write_silver_and_gold(ctx, parsed, counts, clock)
    finally:
        parsed.unpersist()
    _drop_emptied_partitions(ctx, counts, stats)
    return ChunkResult(counts, stats, clock.seconds)


def _lookback_day(ctx: ChunkContext) -> str:
    return transform.lookback_start(ctx.plan.start, ctx.definition.lookback_seconds).isoformat()


def _read_parsed(ctx: ChunkContext) -> DataFrame:
    """The chunk's bronze lines, typed and tagged (transform.parse_bronze)."""
    table = ctx.cfg.bronze_table
    raw = ctx.spark.read.option("basePath", table).text([_partition(table, d) for d in ctx.plan.present])
    # A gzip file is read by one task. With few input partitions for the cores (say, a day in one big
    # file and a small late one), spread the lines before parsing so the parse and every later stage
    # use all cores; with many files, or little input, it is not worth a shuffle.
    cores = ctx.spark.sparkContext.defaultParallelism
    if ctx.plan.input_bytes >= SPREAD_INPUT_BYTES and raw.rdd.getNumPartitions() < 2 * cores:
        raw = raw.repartition(2 * cores)
    return transform.parse_bronze(raw, ctx.cfg.lateness_days)


def summarize_line_counts(rows: List, process: List[str], lookback: str, end: str) -> LineCounts:
    """The manifest's counts from transform.line_counts rows (arrival_dt, event_dt, reason, lines)."""
    input_per_dt = {d: 0 for d in process}
    bad_per_dt = {d: 0 for d in process}
    valid_per_event_dt = {d: 0 for d in process}
    reasons: Dict[str, int] = {}
    in_scope = 0
    for r in rows:
        n = int(r["lines"])
        if r["arrival_dt"] in input_per_dt:
            input_per_dt[r["arrival_dt"]] += n
            if r["reason"] is not None:
                bad_per_dt[r["arrival_dt"]] += n
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + n
        if r["reason"] is None and r["event_dt"] is not None:
            if r["event_dt"] in valid_per_event_dt:
                valid_per_event_dt[r["event_dt"]] += n
            if lookback <= r["event_dt"] <= end:
                in_scope += n
    return LineCounts(
        rows_read=sum(int(r["lines"]) for r in rows), input_per_dt=input_per_dt, bad_per_dt=bad_per_dt,
        reasons=dict(sorted(reasons.items())), valid_per_event_dt=valid_per_event_dt, in_scope_rows=in_scope,
    )


def _write_silver_and_gold(ctx: ChunkContext, parsed: DataFrame, counts: LineCounts, clock: _PhaseClock) -> OutputStats:
    """Deduplicate the in-scope events, write the processed days' silver, then their gold features."""
    process, cfg = ctx.plan.process, ctx.cfg
    in_scope = parsed.where(F.col("reason").isNull()
                            & F.col("event_dt").between(_lookback_day(ctx), ctx.plan.end.isoformat()))
    # The deduplicated events (lookback days included) feed both the silver write and the feature
    # windows, so they are cached. The dedup shuffle gets an explicit partition count sized from
    # the line counts: a cached shuffle output keeps its partitioning, and the session default
    # (200) would mean hundreds of tiny tasks for every stage reading it.
    parts = max(2 * ctx.spark.sparkContext.defaultParallelism, -(-counts.in_scope_rows // ROWS_PER_PARTITION))
    silver = transform.deduplicate(in_scope.repartition(parts, "event_id")).persist()
    try:
        # Row counts and event-time range are observed while writing: no extra pass over the data.
        silver_obs = Observation("silver")
        _write_partitioned(silver.where(F.col("dt").isin(*process)).observe(silver_obs, *_stats_exprs(process)),
                           cfg.silver_table, ["dt"])
        clock.mark("dedup_and_silver_write")
        gold_obs = Observation("gold")
        gold_out = (
            transform.with_features(silver, ctx.definition)
            .where(F.col("dt").isin(*process))
            .select(*transform.GOLD_COLUMNS)
            .observe(gold_obs, *_stats_exprs(process))
            .withColumn("run", F.lit(cfg.run_id))
        )
        # Into this run's own locations: the current gold is never touched (see ledger.py).
        _write_partitioned(gold_out, cfg.gold_table, ["feature_version", "dt", "run"])
        clock.mark("features_and_gold_write")
    finally:
        silver.unpersist()
    gold, silver_stats = _observed(gold_obs.get, process), _observed(silver_obs.get, process)
    if gold.rows != silver_stats.rows:  # one gold row per silver event, always
        raise RuntimeError(f"gold rows {gold.rows} differ from silver rows {silver_stats.rows}")
    return gold


def _observed(metrics: Dict, days: List[str]) -> OutputStats:
    """OutputStats from the metrics of _stats_exprs."""
    min_t, max_t = metrics["min_t"], metrics["max_t"]
    return OutputStats(rows={d: int(metrics[f"rows_{i}"]) for i, d in enumerate(days)},
                       min_t=None if min_t is None else int(min_t), max_t=None if max_t is None else int(max_t))


def _drop_emptied_partitions(ctx: ChunkContext, counts: LineCounts, stats: OutputStats) -> None:
    """A processed day that now has no rows must not keep rows of an earlier run: its gold commit says
    "no rows" (readers drop the day), and its silver goes; likewise its quarantine without bad lines."""
    fs, cfg = ctx.fs, ctx.cfg
    for d in ctx.plan.process:
        if stats.rows[d] == 0 and fs.exists(_partition(cfg.silver_table, d)):
            fs.delete(_partition(cfg.silver_table, d))
        if counts.bad_per_dt[d] == 0 and fs.exists(_partition(cfg.quarantine_table, d)):
            fs.delete(_partition(cfg.quarantine_table, d))


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


def current_gold(fs: LakeFs, cfg: JobConfig, day: str) -> Tuple[Optional[str], Optional[str]]:
    """(location of the day's current gold, etag of its commit): the commit's location, or files written
    without a ledger (no etag then: the day's first commit must create the record)."""
    read = fs.read_text_with_etag(ledger.commit_path(cfg.ledger_root, cfg.feature_version, day))
    if read is not None:
        return json.loads(read[0]).get("location"), read[1]
    flat = ledger.flat_location(cfg.gold_table, cfg.feature_version, day)
    return (flat if fs.has_data_files(flat) else None), None


def _commit_days(fs: LakeFs, cfg: JobConfig, definition: FeatureDefinition, plan: ChunkPlan,
                 rows: Dict[str, int], revision: str, job_lineage: Dict) -> Dict[str, Dict]:
    """After the data files are written, make them current: one ledger commit record per processed day,
    each replacing only the commit the plan read (LedgerConflict, and nothing written, if it changed)."""
    commits, current = {}, plan.current
    for d in plan.process:
        location = ledger.run_location(cfg.gold_table, cfg.feature_version, d, cfg.run_id) if rows[d] > 0 else None
        files = fs.data_files(location) if location else []
        commit = ledger.GoldCommit(
            dt=d, feature_version=cfg.feature_version, run_id=cfg.run_id, location=location, files=files,
            rows=rows[d], code_revision=revision, fingerprint=definition.build_fingerprint,
            definition_fingerprint=definition.fingerprint, committed_at=ledger.now_iso(),
            lineage={**job_lineage, "code_revision": revision, "fingerprint": definition.build_fingerprint,
                     "bronze": day_bronze_inputs(fs, cfg, definition, d)},
            previous_location=current[d] if current[d] != location else None,
            job={"feature_group": cfg.feature_group, "start_date": cfg.start.isoformat(), "end_date": cfg.end.isoformat()},
        ).to_json()
        etag = plan.commit_etags.get(d)
        fs.write_text_if(ledger.commit_path(cfg.ledger_root, cfg.feature_version, d),
                         json.dumps(commit, indent=2, sort_keys=True), if_match=etag, if_none_match=etag is None)
        commits[d] = commit
    return commits


# Spark settings recorded in each gold commit's lineage: the ones that size or shape the computation.
LINEAGE_SPARK_KEYS = ("spark.master", "spark.app.id", "spark.executor.memory", "spark.executor.cores",
                      "spark.executor.instances", "spark.driver.memory", "spark.driver.cores",
                      "spark.dynamicAllocation.enabled", "spark.dynamicAllocation.maxExecutors",
                      "spark.sql.shuffle.partitions", "spark.default.parallelism", "spark.sql.adaptive.enabled",
                      *SPARK_CONF)


def _job_lineage(spark: SparkSession) -> Dict:
    """The job run and its Spark settings, the same for every day the run commits."""
    conf = dict(spark.sparkContext.getConf().getAll())
    # EMR Serverless names its job run in the environment; elsewhere (local spark-submit) there is none.
    job_run_id = os.environ.get("EMR_SERVERLESS_JOB_RUN_ID") or conf.get("spark.emr-serverless.jobRunId")
    settings = {k: conf[k] for k in LINEAGE_SPARK_KEYS if k in conf}
    settings["spark.app.id"] = spark.sparkContext.applicationId
    return {"job_run_id": job_run_id, "spark_version": spark.version, "spark_conf": settings}


def day_bronze_inputs(fs: LakeFs, cfg: JobConfig, definition: FeatureDefinition, day: str) -> Dict:
    """The bronze a day's gold depends on: its arrival partitions, lookback and lateness ones included.

    Every partition the day's windows can read is named (`partitions`, present or not, so one added
    later is noticed), with its data files' sizes, modification times and, where the file system gives
    them (S3A), ETags: `backfill check` compares these with the lake to find days built from stale input.
    """
    d = dt.date.fromisoformat(day)
    dates = [x.isoformat() for x in transform.bronze_dates_to_read(d, d, definition.lookback_seconds, cfg.lateness_days)]
    files = []
    for p in dates:
        files.extend(fs.file_statuses(_partition(cfg.bronze_table, p)))
    return {"partitions": dates, "files": files}


def _stats_exprs(days: List[str]) -> List:
    """Aggregates observed on a written frame: rows per day (rows_<i> for days[i]) and the event-time range."""
    return [F.count(F.when(F.col("dt") == d, 1)).alias(f"rows_{i}") for i, d in enumerate(days)] + [
        F.min("event_time").alias("min_t"),
        F.max("event_time").alias("max_t"),
    ]


def chunks(start: dt.date, end: dt.date, size: int):
    cursor = start
    while cursor <= end:
        last = min(end, cursor + dt.timedelta(days=size - 1))
        yield cursor, last
        cursor = last + dt.timedelta(days=1)


def manifest_path(cfg: JobConfig, start: dt.date, end: dt.date) -> str:
    return f"{cfg.manifest_dir}/feature_version={cfg.feature_version}/chunk={start.isoformat()}_{end.isoformat()}.json"


def run(spark: SparkSession, cfg: JobConfig) -> List[Dict]:
    """Run every sub-chunk of the configured range on an existing session; write and return the manifests."""
    fs = LakeFs(spark)
    revision = code_revision(cfg.code_label)
    parts = list(chunks(cfg.start, cfg.end, cfg.chunk_size_days))
    manifests = []
    for start, end in parts:
        manifest = run_chunk(spark, fs, cfg, start, end, revision)
        # With one sub-chunk the caller may choose the manifest's path; otherwise each has its own.
        path = cfg.manifest_path if (cfg.manifest_path and len(parts) == 1) else manifest_path(cfg, start, end)
        manifest.manifest_path = path
        fs.write_text(path, json.dumps(manifest.to_json(), indent=2, sort_keys=True))
        print(f"chunk {start}..{end}: rows {manifest.output_rows}, skipped {manifest.skipped_partitions}, "
              f"gaps {manifest.coverage_gaps}, manifest {path}", flush=True)
        manifests.append(manifest.to_json())
    return manifests


def _memory_mb(value: str) -> float:
    """Spark's memory strings (512m, 2g) in MiB."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", value.lower())
    if not m:
        return 0.0
    return float(m.group(1)) * {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 2**20}[m.group(2)]


def _test_memory_need(spark: SparkSession) -> None:
    """Test hook for the orchestrator's memory ladder: with CARD_FEATURES_TEST_NEEDS_DRIVER_MEMORY_MB=N,
    a run whose driver has less than N MiB fails with a real java.lang.OutOfMemoryError (an allocation
    as large as its whole heap). Unset in production: nothing happens."""
    need = os.environ.get("CARD_FEATURES_TEST_NEEDS_DRIVER_MEMORY_MB")
    if not need:
        return
    have = _memory_mb(spark.sparkContext.getConf().get("spark.driver.memory", "1g"))
    if have >= float(need):
        return
    jvm = spark.sparkContext._jvm
    heap = jvm.java.lang.Runtime.getRuntime().maxMemory()
    jvm.java.nio.ByteBuffer.allocate(int(min(heap, 2**31 - 16)))


def main(argv: List[str], spark: Optional[SparkSession] = None) -> int:
    """Command-line entry. Given a session, uses it and leaves it running; otherwise builds and stops its own."""
    # --error-path: where a failure the job can name (bad bronze file, storage refusal) is recorded.
    error_path, argv = failures.split_error_path(argv)
    cfg = parse_args(argv)
    own_session = spark is None
    if own_session:
        spark = build_spark()
    try:
        fs = LakeFs(spark)
        if error_path and fs.exists(error_path):
            fs.delete(error_path)  # an earlier attempt's record says nothing about this run
        try:
            _test_memory_need(spark)
            run(spark, cfg)
        except Exception as exc:
            record = failures.describe(spark, cfg, exc)
            if record is None:
                raise
            failures.report(fs.write_text, error_path, record)
            return 2
    finally:
        if own_session:
            spark.stop()
    return 0
