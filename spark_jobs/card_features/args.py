"""The job's command line: flags -> JobConfig, every value checked, lake paths from contract.json."""
import argparse
import datetime as dt
import os
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from . import contract, definitions


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


def parse_date(text: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"{flag}: {text!r} is not a date in YYYY-MM-DD form")


def _dates(text: Optional[str], flag: str) -> Optional[List[str]]:
    """A comma-separated list of days (None when the flag is absent), each checked."""
    if text is None:
        return None
    days = [d for d in text.split(",") if d]
    for d in days:
        parse_date(d, flag)
    return days


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Recompute card features for a date range.")
    p.add_argument("--bucket", required=True, help="lake root: S3 bucket, s3:// or file:// URI, or local directory")
    for name, default in contract.DEFAULT_PREFIXES.items():
        flag = "manifest" if name == "manifests" else name
        p.add_argument(f"--{flag}-prefix", default=default)
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
    p.add_argument("--compute-dates", default=None,
                   help="comma-separated days to compute (the others are kept); default: days without gold, "
                        "or every day with --overwrite")
    p.add_argument("--offline-publish-dates", default=None,
                   help="comma-separated days whose committed gold the job writes to the offline store")
    p.add_argument("--offline-store", default=None,
                   help="local:<uri> (the offline store's layout) or sagemaker:<feature group ARN> (the connector)")
    return p


def _check(a: argparse.Namespace) -> None:
    """Refuse values the job cannot run with, naming the flag."""
    start, end = parse_date(a.start_date, "--start-date"), parse_date(a.end_date, "--end-date")
    if end < start:
        raise SystemExit(f"--end-date {end} is before --start-date {start}")
    if a.chunk_size_days < 1:
        raise SystemExit(f"--chunk-size-days must be at least 1, got {a.chunk_size_days}")
    if a.allowed_lateness_days < 0:
        raise SystemExit("--allowed-lateness-days must not be negative")
    try:
        definitions.get_definition(a.feature_version)
    except definitions.UnknownFeatureVersion as e:
        raise SystemExit(f"--feature-version: {e}")


def _run_id(given: Optional[str]) -> str:
    run_id = given or f"direct-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if not all(c.isalnum() or c in "-_" for c in run_id):
        raise SystemExit(f"--run-id: {run_id!r} may hold only letters, digits, - and _")
    return run_id


def _lake_paths(root: str, a: argparse.Namespace) -> Dict[str, str]:
    """The JobConfig fields of the lake's tables and folders (contract.json's paths)."""

    def under(name: str, prefix: str) -> str:
        return contract.path(name, root=root, prefix=prefix.strip("/"))

    return {
        "bronze_table": under("bronze_table", a.bronze_prefix),
        "silver_table": under("silver_table", a.silver_prefix),
        "gold_table": under("gold_table", a.gold_prefix),
        "quarantine_table": under("quarantine_table", a.quarantine_prefix),
        "manifest_dir": under("manifest_dir", a.manifest_prefix),
        "ledger_root": under("ledger_root", a.ledger_prefix),
    }


def _offline(a: argparse.Namespace, root: str, group: str) -> Dict:
    """The JobConfig fields of --offline-publish-dates and --offline-store."""
    days = _dates(a.offline_publish_dates, "--offline-publish-dates")
    if days is None:
        return {}
    store = a.offline_store or f"local:{contract.path('local_offline_store', root=root, group=group)}"
    if not store.startswith(("local:", "sagemaker:")) or store.endswith(":"):
        raise SystemExit(f"--offline-store: {store!r} is neither local:<uri> nor sagemaker:<feature group ARN>")
    return {"offline_publish_dates": days, "offline_store": store}


def default_feature_group(version: str) -> str:
    """As src/common/feature-versions.ts defaultFeatureGroup."""
    return f"rt_card_features_{version.replace('.', '_')}"


def parse_args(argv: List[str]) -> JobConfig:
    a = _parser().parse_args(argv)
    _check(a)
    root = lake_root(a.bucket)
    group = a.feature_group or default_feature_group(a.feature_version)
    return JobConfig(
        lake_root=root,
        **_lake_paths(root, a),
        feature_group=group,
        start=dt.date.fromisoformat(a.start_date),
        end=dt.date.fromisoformat(a.end_date),
        feature_version=a.feature_version,
        chunk_size_days=a.chunk_size_days,
        overwrite=a.overwrite,
        lateness_days=a.allowed_lateness_days,
        code_label=a.code_revision,
        manifest_path=a.manifest_path,
        run_id=_run_id(a.run_id),
        compute_dates=_dates(a.compute_dates, "--compute-dates"),
        **_offline(a, root, group),
    )
