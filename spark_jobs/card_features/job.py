"""The backfill job: the command-line entry, and a run over the sub-chunks of the configured range.

The concerns live in their own modules: args (command line), lake_fs (Hadoop FileSystem), session,
plan (what a chunk reads and computes), steps (parse, count, write), transform (pure DataFrames),
manifest, ledger (gold commits and lineage), offline_publish (the offline store). Paths go through
Hadoop's FileSystem API, so the same code runs on a local lake directory and on S3 (EMR Serverless).
"""
import hashlib
import inspect
import json
import sys
import time
from typing import Dict, List, Optional

from pyspark.sql import SparkSession

from . import (args, conditional, contract, day_lock, definitions, failures, lake_fs, lake_swap, ledger, manifest,
               offline_publish, plan, session, steps, transform)
from .args import JobConfig, parse_args
from .definitions import get_definition
from .lake_fs import LakeFs
from .manifest import Manifest
from .session import build_spark

__all__ = ["JobConfig", "parse_args", "build_spark", "run", "run_chunk", "main", "code_revision"]


def code_revision(label: str) -> str:
    """A hash of this job's own source and the contract it writes by, so a manifest names exactly the code
    that produced it."""
    digest = hashlib.sha256()
    for module in (definitions, contract, args, session, plan, steps, manifest, ledger, transform, lake_fs,
                   conditional, day_lock, lake_swap, offline_publish, sys.modules[__name__]):
        digest.update(inspect.getsource(module).encode())
    digest.update(json.dumps(contract.CONTRACT, sort_keys=True).encode())
    sha = digest.hexdigest()[:12]
    return f"{label}+{sha}" if label else sha


def run_chunk(spark: SparkSession, fs: LakeFs, cfg: JobConfig, start, end, revision: str) -> Manifest:
    """Compute and write the gold (and silver, quarantine) partitions of the days [start, end].

    Reads the arrival partitions of those days plus the lookback and lateness partitions around them,
    writes only partitions of its own days, commits each processed day's gold in the ledger, and
    returns the chunk's manifest.
    """
    started = time.time()
    definition = get_definition(cfg.feature_version)
    chunk = plan.plan_chunk(fs, cfg, definition, start, end)
    out = manifest.new_manifest(cfg, definition, chunk, revision, spark.version)
    if chunk.process:
        ctx = steps.ChunkContext(spark, fs, cfg, definition, chunk)
        result = steps.compute_and_write(ctx)
        out = manifest.with_results(out, chunk, result)
        # The gold files are complete: make them current, one ledger commit per processed day.
        lineage = {**session.job_lineage(spark), "code_revision": revision}
        out.commits = ledger.commit_days(ctx, out.output_rows_per_dt, lineage)
    if cfg.offline_publish_dates:
        out.offline_publication = offline_publish.publish_days(
            spark, fs, cfg, [d for d in chunk.days if d in cfg.offline_publish_dates])
    out.duration_seconds = round(time.time() - started, 3)
    return out


def run(spark: SparkSession, cfg: JobConfig) -> List[Dict]:
    """Run every sub-chunk of the configured range on an existing session; write and return the manifests."""
    fs = LakeFs(spark)
    revision = code_revision(cfg.code_label)
    parts = list(plan.chunks(cfg.start, cfg.end, cfg.chunk_size_days))
    manifests = []
    for start, end in parts:
        m = run_chunk(spark, fs, cfg, start, end, revision)
        # With one sub-chunk the caller may choose the manifest's path; otherwise each has its own.
        path = cfg.manifest_path if (cfg.manifest_path and len(parts) == 1) else manifest.manifest_path(cfg, start, end)
        m.manifest_path = path
        fs.write_text(path, json.dumps(m.to_json(), indent=2, sort_keys=True))
        print(f"chunk {start}..{end}: rows {m.output_rows}, skipped {m.skipped_partitions}, "
              f"gaps {m.coverage_gaps}, manifest {path}", flush=True)
        manifests.append(m.to_json())
    return manifests


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
