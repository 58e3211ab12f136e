"""Offline publication from the Spark job: a day's committed gold written into the feature group's
offline store, and recorded in the publication ledger, so the worker's API loop only sends the days
the online store needs.

Each (feature group, feature version, day) is one replaceable unit:

1. the days' records are written in one Spark write to this job attempt's own staging directory,
   `_staging/feature_version=V/run=R/attempt=A/` (hidden: readers skip `_x`); no other job, chunk or
   attempt writes, lists or deletes it, and the attempt deletes it when it ends;
2. a publication record with status `in_progress` names the final files about to appear (and the
   attempt's staging), replacing only the record read when deciding (conditional.py);
3. what an earlier attempt's `in_progress` record names is removed (its files, its staging of the day),
   then the staged files are moved to their final names in the offline store's layout;
4. the record is replaced by one with status `done`, again only if it is still the one written in 2.

A job that dies after 2 leaves a record naming every file it may have moved: the next run deletes
them before writing the day again, so a day is never in the store twice. A day whose `done` record
matches its current gold is skipped. A record changed by another writer meanwhile stops the job with
LedgerConflict instead of overwriting it. The record format is the publication
record of src/activities/ledger/records.ts (docs/design.md, "A Spark publication").

Two stores:

- `local:<uri>`: the layout of SageMaker's offline store (Glue/Hive table format), under `<uri>/data/`:
  `year=YYYY/month=MM/day=DD/hour=HH/` partitions of the event time, the record's features plus
  `write_time`, `api_invocation_time` and `is_deleted`. The local feature store counts these files
  with its own offline table.
- `sagemaker:<feature group ARN>`: the official Feature Store Spark connector
  (`FeatureStoreManager().ingest_data(df, arn, target_stores=["OfflineStore"])`), its jar passed with
  `--jars`. The connector appends to the offline store and cannot replace a day; see docs/aws.md.
"""
import json
from typing import Dict, List, Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from . import contract, ledger

OFFLINE_EXTRA_COLUMNS = contract.OFFLINE_STORE_ADDED


def local_store_root(lake_root: str, group: str) -> str:
    """The local offline store of a group, beside the local feature store's database (feature-store.ts)."""
    return contract.path("local_offline_store", root=lake_root, group=group)


def publication_path(ledger_root: str, group: str, version: str, day: str) -> str:
    """Where src/activities/ledger/records.ts publicationUri() keeps the day's record."""
    return contract.path("publication", ledger_root=ledger_root, group=group, version=version, dt=day)


def file_prefix(version: str, day: str) -> str:
    """Final files of one (version, day) carry this prefix, so they are found and replaced as a unit."""
    return contract.path("offline_file_prefix", version=version, dt=day)


def offline_frame(gold: DataFrame, version: str, keep: tuple = ()) -> DataFrame:
    """Gold rows as offline store records: the API path's features (event time as ISO-8601 UTC) plus
    the columns SageMaker adds, partitioned by the event time's hour; `keep`: gold columns carried along."""
    now = F.current_timestamp()
    t = F.to_timestamp(F.col("event_time").cast("long"))
    special = {
        "card_id": F.col("card_id").cast("string"),
        "event_id": F.col("event_id").cast("string"),
        "event_time": F.date_format(t, "yyyy-MM-dd'T'HH:mm:ss'Z'"),
        "feature_version": F.lit(version),
        "write_time": now,
        "api_invocation_time": now,
        "is_deleted": F.lit(False),
        "year": F.date_format(t, "yyyy"),
        "month": F.date_format(t, "MM"),
        "day": F.date_format(t, "dd"),
        "hour": F.date_format(t, "HH"),
    }
    # The contract's columns, in its order; the features are gold's as they are.
    columns = [special[c].alias(c) if c in special else F.col(c) for c in contract.OFFLINE_STORE_COLUMNS]
    return gold.select(*columns, *keep)


def publish_days(spark: SparkSession, fs, cfg, days: List[str]) -> Dict[str, Dict]:
    """Publish each day's current gold to the offline store, unless its `done` record says it is there."""
    out: Dict[str, Dict] = {}
    todo = []
    for day in days:
        commit = _current_commit(fs, cfg, day)
        if commit is None or commit.get("rows", 0) == 0:
            continue
        read = fs.read_text_with_etag(publication_path(cfg.ledger_root, cfg.feature_group, cfg.feature_version, day))
        previous, etag = (json.loads(read[0]), read[1]) if read else (None, None)
        if _already_done(previous, commit):
            out[day] = {"status": "already_published", "records": previous["records_written"]}
        else:
            todo.append((day, commit, previous, etag))
    if not todo:
        return out
    if cfg.offline_store.startswith("sagemaker:"):
        arn = cfg.offline_store[len("sagemaker:"):]
        records = [_publish_with_connector(spark, fs, cfg, unit, arn) for unit in todo]
    else:
        records = _publish_local(spark, fs, cfg, todo)
    for r in records:
        out[r["dt"]] = {"status": "published", "records": r["records_written"]}
    return out


def staging_dir(cfg) -> str:
    """This job attempt's own staging: no other attempt (of this run or any) writes, lists or deletes it."""
    return contract.path("offline_staging", store=cfg.offline_store[len("local:"):], version=cfg.feature_version,
                         run_id=cfg.run_id, attempt=cfg.attempt_id)


def _publish_local(spark: SparkSession, fs, cfg, todo: List) -> List[Dict]:
    """All days in one Spark write to this attempt's staging, then each day moved and recorded on its own."""
    root = cfg.offline_store[len("local:"):]
    stage = staging_dir(cfg)
    files = [f for _, commit, _, _ in todo for f in commit["files"]]
    # The gold's own partition columns (dt) come from the paths under the gold table.
    gold = spark.read.option("basePath", cfg.gold_table).parquet(*files)
    try:
        # The directory is new (the attempt id is), so Spark's temporaries under it are this write's alone.
        (offline_frame(gold, cfg.feature_version, keep=("dt",))
         .write.mode("errorifexists").partitionBy("dt", *contract.OFFLINE_STORE_PARTITIONS).parquet(stage))
        records = [_move_and_record(fs, cfg, root, contract.path("day_partition", table=stage, dt=unit[0]), unit)
                   for unit in todo]
    finally:
        fs.delete(stage)  # ours alone; a day left in_progress is staged again by the next attempt
    return records


def _move_and_record(fs, cfg, root: str, stage: str, unit) -> Dict:
    """Claim the day (the files about to appear), undo an earlier attempt's part, move, record it done."""
    day, commit, previous, etag = unit
    staged = fs.relative_data_files(stage)
    prefix = f"{file_prefix(cfg.feature_version, day)}{cfg.run_id}_"
    data = contract.path("offline_data", store=root)
    final = [f"{data}/{rel.rsplit('/', 1)[0]}/{prefix}{rel.rsplit('/', 1)[1]}" for rel in staged]
    path = publication_path(cfg.ledger_root, cfg.feature_group, cfg.feature_version, day)
    claim = _record(cfg, day, commit, previous, final, status="in_progress")
    claimed = fs.write_text_if(path, json.dumps(claim, indent=2), if_match=etag, if_none_match=etag is None)
    _undo_partial(fs, cfg, day, previous)
    for rel, dest in zip(staged, final):
        fs.rename(f"{stage}/{rel}", dest)
    record = _record(cfg, day, commit, previous, final, status="done")
    fs.write_text_if(path, json.dumps(record, indent=2), if_match=claimed)
    return record


def _publish_with_connector(spark, fs, cfg, unit, arn) -> Dict:
    """The AWS path: the Feature Store Spark connector, offline store only (its jar on the classpath).

    Called through py4j as its Python wrapper does (feature_store_pyspark.FeatureStoreManager), without
    the wrapper: it imports pyspark.ml and so numpy, and the jar is all the job needs.
    """
    day, commit, previous, etag = unit
    if previous and previous.get("status") == "in_progress":
        # The connector appends: what a dead attempt wrote cannot be removed, only counted (docs/aws.md).
        raise RuntimeError(f"day {day}: an earlier Spark publication died midway; the connector cannot replace it")
    record = _record(cfg, day, commit, previous, [], status="in_progress")
    path = publication_path(cfg.ledger_root, cfg.feature_group, cfg.feature_version, day)
    claimed = fs.write_text_if(path, json.dumps(record, indent=2), if_match=etag, if_none_match=etag is None)
    frame = offline_frame(spark.read.parquet(*commit["files"]), cfg.feature_version).drop(
        *OFFLINE_EXTRA_COLUMNS, *contract.OFFLINE_STORE_PARTITIONS)
    jvm = spark.sparkContext._jvm
    stores = jvm.java.util.ArrayList()
    stores.add("OfflineStore")
    # FeatureStoreManager().ingest_data(frame, arn, target_stores=["OfflineStore"]), as the wrapper calls it.
    jvm.software.amazon.sagemaker.featurestore.sparksdk.FeatureStoreManager(None).ingestDataInJava(frame._jdf, arn, stores)
    record = _record(cfg, day, commit, previous, [], status="done")
    fs.write_text_if(path, json.dumps(record, indent=2), if_match=claimed)
    return record


def _undo_partial(fs, cfg, day: str, previous: Optional[Dict]) -> None:
    """Remove what an attempt that died midway through the day's move left: every file its in-progress
    record names, and its staging of the day (that record names the attempt; this one now owns the day)."""
    if not (previous and previous.get("published_with") == "spark" and previous.get("status") != "done"):
        return
    stale = list(previous.get("offline_files", []))
    if previous.get("staging") and previous.get("spark_attempt") != cfg.attempt_id:
        stale.append(contract.path("day_partition", table=previous["staging"], dt=day))
    for f in stale:
        if fs.exists(f):
            fs.delete(f)


def _record(cfg, day: str, commit: Dict, previous: Optional[Dict], files: List[str], status: str) -> Dict:
    """The day's publication record (contract.json's shape), then the Spark publication's own fields."""
    rows, done = int(commit["rows"]), status == "done"
    record = contract.new_publication(commit, {
        "feature_group": cfg.feature_group,
        "feature_version": cfg.feature_version,
        "published_by": cfg.run_id,
        "published_with": "spark",
        "target_stores": ["OfflineStore"],
        # One unit, not batches: the API loop's batch fields say "all of it" once done.
        "batch_size": max(rows, 1),
    })
    record.update({
        "records": rows,
        "acked_prefix": 1 if done else 0,
        "records_written": rows if done else 0,
        "status": status,
        "sending": not done,
        "attempts": (previous or {}).get("attempts", 0) + 1,
    })
    return {
        **record,
        "offline_files": files,
        "spark_run_id": cfg.run_id,
        # The job attempt that wrote the record and its staging (offline store only), so a later
        # attempt that takes the day over from an in_progress record removes exactly that staging.
        "spark_attempt": cfg.attempt_id,
        **({"staging": staging_dir(cfg)} if cfg.offline_store.startswith("local:") else {}),
        "updated_at": ledger.now_iso(),
    }


def _already_done(previous: Optional[Dict], commit: Dict) -> bool:
    return bool(previous and previous.get("status") == "done" and previous.get("gold_run_id") == commit["run_id"]
                and previous.get("gold_files") == commit["files"])


def _current_commit(fs, cfg, day: str) -> Optional[Dict]:
    return _read_json(fs, ledger.commit_path(cfg.ledger_root, cfg.feature_version, day))


def _read_json(fs, path: str) -> Optional[Dict]:
    text = fs.read_text(path)
    return json.loads(text) if text is not None else None
