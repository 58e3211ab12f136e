"""The compute steps of one chunk: parse the bronze, count its lines, write quarantine, silver and gold.

The DataFrames come from transform.py (pure); this module reads the input and writes the outputs.
"""
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from . import contract, lake_swap, transform
from .args import JobConfig
from .definitions import FeatureDefinition
from .lake_fs import LakeFs
from .plan import ChunkPlan, day_partition

# Input (compressed bronze bytes) from which a chunk read in few partitions is spread over the cores.
SPREAD_INPUT_BYTES = 8 * 1024 * 1024
# Target size of a partition of deduplicated events (rows), for the dedup shuffle.
ROWS_PER_PARTITION = 500_000


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


class PhaseClock:
    """Wall seconds of the job's phases, for the manifest's phase_seconds."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self._last = time.time()

    def mark(self, name: str) -> None:
        now = time.time()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now


def compute_and_write(ctx: ChunkContext) -> ChunkResult:
    """Parse the chunk's bronze, write quarantine, silver and gold; return the counts and row stats."""
    clock = PhaseClock()
    parsed = _read_parsed(ctx).persist()
    try:
        # One pass over the input (it also fills the cache): every line count of the manifest.
        counts = summarize_line_counts(transform.line_counts(parsed).collect(), ctx.plan.process,
                                       _lookback_day(ctx), ctx.plan.end.isoformat())
        clock.mark("parse_and_count")
        if any(counts.bad_per_dt.values()):
            quarantine = transform.quarantine_rows(parsed).where(F.col("dt").isin(*ctx.plan.process))
            lake_swap.replace_days(ctx.fs, ctx.cfg, quarantine, ctx.cfg.quarantine_table)
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
    raw = ctx.spark.read.option("basePath", table).text([day_partition(table, d) for d in ctx.plan.present])
    # A gzip file is read by one task. With few input partitions for the cores (say, a day in one big
    # file and a small late one), spread the lines before parsing so the parse and every later stage
    # use all cores; with many files, or little input, it is not worth a shuffle.
    cores = ctx.spark.sparkContext.defaultParallelism
    # Spread by a hash of the line, not round robin: Spark sorts every row before a round-robin
    # shuffle (so that a retried task sends the same rows to the same places), which cost a third
    # more CPU than the hash (#22, docs/benchmarks.md).
    if ctx.plan.input_bytes >= SPREAD_INPUT_BYTES and raw.rdd.getNumPartitions() < 2 * cores:
        raw = raw.repartition(2 * cores, "value")
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


def _write_silver_and_gold(ctx: ChunkContext, parsed: DataFrame, counts: LineCounts, clock: PhaseClock) -> OutputStats:
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
        lake_swap.replace_days(ctx.fs, cfg, silver.where(F.col("dt").isin(*process))
                               .observe(silver_obs, *_stats_exprs(process)), cfg.silver_table)
        clock.mark("dedup_and_silver_write")
        gold_obs = Observation("gold")
        gold_out = (
            transform.gold_for_days(silver, ctx.definition, process)
            .observe(gold_obs, *_stats_exprs(process))
            .withColumn(contract.GOLD_RUN_PARTITION, F.lit(cfg.run_id))
        )
        # Into this run's own locations: the current gold is never touched (see ledger.py).
        _write_partitioned(gold_out, cfg.gold_table, [*contract.GOLD_PARTITIONS, contract.GOLD_RUN_PARTITION])
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
    "no rows" (readers drop the day), and its silver goes; likewise its quarantine without bad lines.
    Under each day's swap lock, as the writes (lake_swap.py)."""
    fs, cfg, days = ctx.fs, ctx.cfg, ctx.plan.process
    lake_swap.drop_days(fs, cfg, cfg.silver_table, [d for d in days if stats.rows[d] == 0])
    lake_swap.drop_days(fs, cfg, cfg.quarantine_table, [d for d in days if counts.bad_per_dt[d] == 0])


def _stats_exprs(days: List[str]) -> List:
    """Aggregates observed on a written frame: rows per day (rows_<i> for days[i]) and the event-time range."""
    return [F.count(F.when(F.col("dt") == d, 1)).alias(f"rows_{i}") for i, d in enumerate(days)] + [
        F.min("event_time").alias("min_t"),
        F.max("event_time").alias("max_t"),
    ]


def _write_partitioned(df: DataFrame, table: str, partition_cols: List[str]) -> None:
    """Replace exactly the partitions present in `df` (a few files each: one per task holding rows of it).

    Dynamic partition overwrite stages the output and swaps whole partitions at commit, so a failed
    job leaves the previous partitions as they were. The mode is passed on the writer itself: with
    Spark's default (static) mode this write would delete every other partition of the table.
    For gold's run=R locations, one writer each; silver and quarantine, shared by the lake's writers,
    go through lake_swap.
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
