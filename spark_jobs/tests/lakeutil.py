"""Helpers for tests: write bronze files, run the job in-process, read what it wrote."""
import datetime as dt
import glob
import gzip
import json
import os
from typing import Dict, Iterable, List, Optional, Union

from card_features import job

BRONZE = ("bronze", "streaming", "card_authorization")


def utc(text: str) -> int:
    """Epoch seconds of an ISO-8601 UTC timestamp such as '2025-10-01T23:30:00'."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp())


def ev(event_id: str, card_id: str, event_time: Union[int, str], amount: float = 10.0,
       merchant_id: str = "m_1", status: str = "APPROVED", currency: str = "USD", **extra) -> Dict:
    """One contract-shaped authorization event (event_time as epoch seconds or ISO UTC text)."""
    if isinstance(event_time, str):
        event_time = utc(event_time)
    return {"event_id": event_id, "card_id": card_id, "merchant_id": merchant_id, "amount": amount,
            "currency": currency, "status": status, "event_time": event_time, **extra}


def bronze_dir(lake: str, day: str) -> str:
    return os.path.join(lake, *BRONZE, f"dt={day}")


def write_bronze(lake: str, day: str, lines: Iterable[Union[Dict, str]], name: str = "part-00000.json.gz") -> str:
    """Write newline-delimited JSON (dicts are serialized, strings written as they are) as gzip."""
    folder = bronze_dir(lake, day)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(text.encode())
    return path


def run_backfill(spark, lake: str, start: str, end: str, *extra: str, version: str = "v1") -> List[Dict]:
    """Run the job's CLI path in-process on the shared session; return the chunk manifests."""
    argv = ["--bucket", lake, "--start-date", start, "--end-date", end, "--feature-version", version, *extra]
    return job.run(spark, job.parse_args(argv))


def read_table(spark, path: str, partition_cols: Optional[List[str]] = None):
    """All rows of a parquet table directory as sorted tuples of plain values (partition values as strings)."""
    if not glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True):
        return []
    df = spark.read.option("basePath", path).parquet(path)
    cols = sorted(df.columns)
    rows = [tuple(r[c] for c in cols) for r in df.select(*cols).collect()]
    return sorted(rows, key=lambda row: tuple((x is not None, x) for x in row))  # nulls first


GOLD = ("gold", "card_features")


def commit(lake: str, version: str, day: str) -> Optional[Dict]:
    """The day's gold commit record in the ledger, or None."""
    path = os.path.join(lake, "_ledger", *GOLD, f"feature_version={version}", f"dt={day}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def current_gold_dirs(lake: str, version: Optional[str] = None) -> Dict[str, str]:
    """'feature_version=v/dt=d' -> the local directory readers use for it (ledger first, then flat files)."""
    table = os.path.join(lake, *GOLD)
    out = {}
    pattern = os.path.join(table, f"feature_version={version}" if version else "feature_version=*", "dt=*")
    for d in sorted(glob.glob(pattern)):
        key = os.path.relpath(d, table)
        v, day = key.split("/")[0].split("=")[1], key.split("/")[1].split("=")[1]
        c = commit(lake, v, day)
        if c is not None:
            if c["location"]:
                out[key] = c["location"][len("file://"):]
        elif glob.glob(os.path.join(d, "*.parquet")):
            out[key] = d
    return out


def gold_df(spark, lake: str, version: Optional[str] = None):
    """The current gold (what the catalog shows), with feature_version and dt columns."""
    table = os.path.join(lake, *GOLD)
    df = spark.read.option("basePath", table).parquet(*current_gold_dirs(lake, version).values())
    return df.drop("run") if "run" in df.columns else df


def read_gold(spark, lake: str):
    """The current gold as read_table gives a table: sorted tuples, partition values included."""
    if not current_gold_dirs(lake):
        return []
    df = gold_df(spark, lake)
    cols = sorted(df.columns)
    return sorted((tuple(r[c] for c in cols) for r in df.select(*cols).collect()),
                  key=lambda row: tuple((x is not None, x) for x in row))


def gold_rows(spark, lake: str, version: Optional[str] = None) -> Dict[str, Dict]:
    """Gold rows keyed by event_id (asserting event_id is unique within the selection)."""
    if not gold_partitions(lake, version):
        return {}
    rows = [r.asDict() for r in gold_df(spark, lake, version).collect()]
    by_id = {}
    for r in rows:
        key = r["event_id"] if version else (r["feature_version"], r["event_id"])
        assert key not in by_id, f"duplicate gold row for {key}"
        by_id[key] = r
    return by_id


def gold_partitions(lake: str, version: Optional[str] = None) -> List[str]:
    """Gold partitions readers see, as 'feature_version=v/dt=d' strings."""
    return sorted(current_gold_dirs(lake, version))


def current_gold_files(lake: str, version: str, day: str) -> Dict[str, float]:
    """The day's current gold data files with their modification times (to prove a day untouched)."""
    d = current_gold_dirs(lake, version).get(f"feature_version={version}/dt={day}")
    return {} if d is None else {p: os.path.getmtime(p) for p in sorted(glob.glob(os.path.join(d, "*.parquet")))}


def partition_files(lake: str, *parts: str) -> Dict[str, float]:
    """Data files under a partition directory with their modification times (to prove a partition untouched)."""
    root = os.path.join(lake, *parts)
    return {os.path.relpath(p, root): os.path.getmtime(p)
            for p in glob.glob(os.path.join(root, "**", "*.parquet"), recursive=True)}


def features(row: Dict):
    return (row["txn_count_1h"], row["txn_count_24h"], row["amount_sum_24h"], row["merchant_count_24h"])
