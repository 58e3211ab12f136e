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
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import definitions, transform
from .definitions import FeatureDefinition, get_definition


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
    return JobConfig(
        lake_root=root,
        bronze_table=f"{root}/{a.bronze_prefix.strip('/')}/card_authorization",
        silver_table=f"{root}/{a.silver_prefix.strip('/')}/card_authorization",
        gold_table=f"{root}/{a.gold_prefix.strip('/')}/card_features",
        quarantine_table=f"{root}/{a.quarantine_prefix.strip('/')}/card_authorization",
        manifest_dir=f"{root}/{a.manifest_prefix.strip('/')}/card_features",
        feature_group=a.feature_group or f"rt_card_features_{a.feature_version.replace('.', '_')}",
        start=start,
        end=end,
        feature_version=a.feature_version,
        chunk_size_days=a.chunk_size_days,
        overwrite=a.overwrite,
        lateness_days=a.allowed_lateness_days,
        code_label=a.code_revision,
        manifest_path=a.manifest_path,
    )


def code_revision(label: str) -> str:
    """A hash of this job's own source, so a manifest names exactly the code that produced it."""
    digest = hashlib.sha256()
    for module in (definitions, transform, sys.modules[__name__]):
        digest.update(inspect.getsource(module).encode())
    sha = digest.hexdigest()[:12]
    return f"{label}+{sha}" if label else sha


class LakeFs:
    """The few Hadoop FileSystem calls the job needs, on whatever scheme the path has."""

    def __init__(self, spark: SparkSession):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, path: str):
        p = self._jvm.org.apache.hadoop.fs.Path(path)
        return p.getFileSystem(self._conf), p

    def exists(self, path: str) -> bool:
        fs, p = self._path(path)
        return bool(fs.exists(p))

    def delete(self, path: str) -> None:
        fs, p = self._path(path)
        fs.delete(p, True)

    def write_text(self, path: str, text: str) -> None:
        """Write to a temporary name, then rename: readers never see a half-written file."""
        fs, p = self._path(path)
        tmp = self._jvm.org.apache.hadoop.fs.Path(path + ".tmp")
        out = fs.create(tmp, True)
        out.write(bytearray(text.encode("utf-8")))
        out.close()
        fs.delete(p, False)
        fs.rename(tmp, p)


def build_spark(app_name: str = "backfill_features") -> SparkSession:
    return (
        SparkSession.builder.appName(app_name)
        # Overwrite replaces only the (feature_version, dt) partitions present in the written frame.
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        # Keep `dt=YYYY-MM-DD` a string, as the contract writes it.
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def _partition(table: str, dt_value: str, version: Optional[str] = None) -> str:
    prefix = f"{table}/feature_version={version}" if version else table
    return f"{prefix}/dt={dt_value}"


def _write_partitioned(df: DataFrame, table: str, partition_cols: List[str]) -> None:
    # One file per partition; dynamic overwrite stages output and swaps whole partitions at commit,
    # so a failed job leaves the previous partitions as they were.
    df.repartition(*partition_cols).write.mode("overwrite").partitionBy(*partition_cols).parquet(table)


def run_chunk(spark: SparkSession, fs: LakeFs, cfg: JobConfig, start: dt.date, end: dt.date, revision: str) -> Dict:
    started = time.time()
    definition: FeatureDefinition = get_definition(cfg.feature_version)
    days = [d.isoformat() for d in transform.date_range(start, end)]
    read_dates = [
        d.isoformat()
        for d in transform.bronze_dates_to_read(start, end, definition.lookback_seconds, cfg.lateness_days)
    ]
    present = [d for d in read_dates if fs.exists(_partition(cfg.bronze_table, d))]
    coverage_gaps = [d for d in days if d not in present]
    missing_context = [d for d in read_dates if d not in present and d not in days]

    existing = [d for d in days if fs.exists(_partition(cfg.gold_table, d, cfg.feature_version))]
    skipped = [] if cfg.overwrite else existing
    targets = [d for d in days if d not in skipped]

    manifest: Dict = {
        "feature_group": cfg.feature_group,
        "feature_version": cfg.feature_version,
        "feature_definition": {"fingerprint": definition.fingerprint, "description": definition.description},
        "code_revision": revision,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "overwrite": cfg.overwrite,
        "bronze_partitions_read": present,
        "coverage_gaps": coverage_gaps,
        "missing_context_partitions": missing_context,
        "skipped_partitions": skipped,
        "overwritten_partitions": [d for d in existing if d in targets],
        "written_partitions": [],
        "input_rows": 0,
        "quarantined_rows": 0,
        "quarantined_rows_per_dt": {},
        "duplicates_removed": 0,
        "output_rows_per_dt": {},
        "output_rows": 0,
        "duplicate_event_ids_in_output": 0,
        "min_event_time": None,
        "max_event_time": None,
        "gold_table": cfg.gold_table,
    }
    if targets and present:
        raw = spark.read.option("basePath", cfg.bronze_table).text(
            [_partition(cfg.bronze_table, d) for d in present]
        )
        parsed = transform.parse_bronze(raw, cfg.lateness_days).persist()
        lookback_start = (start - dt.timedelta(seconds=definition.lookback_seconds)).isoformat()
        in_scope = parsed.where(F.col("event_dt").between(lookback_start, end.isoformat()))
        silver = transform.deduplicate(in_scope).persist()

        bad = transform.quarantine_rows(parsed).where(F.col("dt").isin(*targets))
        quarantine_counts = {r["dt"]: int(r["n"]) for r in bad.groupBy("dt").agg(F.count("*").alias("n")).collect()}
        if quarantine_counts:
            _write_partitioned(bad, cfg.quarantine_table, ["dt"])
        valid_in_targets = parsed.where(F.col("reason").isNull() & F.col("event_dt").isin(*targets)).count()

        silver_targets = silver.where(F.col("dt").isin(*targets))
        _write_partitioned(silver_targets, cfg.silver_table, ["dt"])
        _write_partitioned(transform.gold_for_days(silver, definition, targets), cfg.gold_table, ["feature_version", "dt"])

        written = [d for d in targets if fs.exists(_partition(cfg.gold_table, d, cfg.feature_version))]
        stats = _gold_stats(spark, cfg, written)
        manifest.update(
            input_rows=parsed.count(),
            quarantined_rows=sum(quarantine_counts.values()),
            quarantined_rows_per_dt=dict(sorted(quarantine_counts.items())),
            duplicates_removed=valid_in_targets - silver_targets.count(),
            **stats,
        )
        parsed.unpersist()
        silver.unpersist()

    if cfg.overwrite:
        # A day that now has no events must not keep rows from an earlier run; a day without
        # bronze keeps its old rows (it is a coverage gap, reported, not a reason to delete).
        for d in targets:
            if d in existing and d not in manifest["written_partitions"] and d in present:
                fs.delete(_partition(cfg.gold_table, d, cfg.feature_version))
    manifest["output_rows_per_dt"] = {d: manifest["output_rows_per_dt"].get(d, 0) for d in targets}
    manifest["duration_seconds"] = round(time.time() - started, 3)
    manifest["spark_version"] = spark.version
    return manifest


def _gold_stats(spark: SparkSession, cfg: JobConfig, written: List[str]) -> Dict:
    if not written:
        return {}
    gold = spark.read.parquet(*[_partition(cfg.gold_table, d, cfg.feature_version) for d in written])
    gold = gold.withColumn("dt", F.regexp_extract(F.input_file_name(), r"dt=(\d{4}-\d{2}-\d{2})", 1))
    per_dt = gold.groupBy("dt").agg(
        F.count("*").alias("rows"),
        F.countDistinct("event_id").alias("ids"),
        F.min("event_time").alias("min_t"),
        F.max("event_time").alias("max_t"),
    ).collect()
    rows = {r["dt"]: int(r["rows"]) for r in per_dt}
    return {
        "written_partitions": written,
        "output_rows_per_dt": dict(sorted(rows.items())),
        "output_rows": sum(rows.values()),
        "duplicate_event_ids_in_output": sum(int(r["rows"]) - int(r["ids"]) for r in per_dt),
        "min_event_time": min((int(r["min_t"]) for r in per_dt), default=None),
        "max_event_time": max((int(r["max_t"]) for r in per_dt), default=None),
    }


def chunks(start: dt.date, end: dt.date, size: int):
    cursor = start
    while cursor <= end:
        last = min(end, cursor + dt.timedelta(days=size - 1))
        yield cursor, last
        cursor = last + dt.timedelta(days=1)


def manifest_path(cfg: JobConfig, start: dt.date, end: dt.date) -> str:
    return f"{cfg.manifest_dir}/feature_version={cfg.feature_version}/chunk={start.isoformat()}_{end.isoformat()}.json"


def main(argv: List[str]) -> int:
    cfg = parse_args(argv)
    spark = build_spark()
    fs = LakeFs(spark)
    revision = code_revision(cfg.code_label)
    parts = list(chunks(cfg.start, cfg.end, cfg.chunk_size_days))
    for start, end in parts:
        manifest = run_chunk(spark, fs, cfg, start, end, revision)
        # With one sub-chunk the caller may choose the manifest's path; otherwise each has its own.
        path = cfg.manifest_path if (cfg.manifest_path and len(parts) == 1) else manifest_path(cfg, start, end)
        fs.write_text(path, json.dumps(manifest, indent=2, sort_keys=True))
        print(f"chunk {start}..{end}: rows {manifest['output_rows']}, skipped {manifest['skipped_partitions']}, "
              f"gaps {manifest['coverage_gaps']}, manifest {path}", flush=True)
    spark.stop()
    return 0
