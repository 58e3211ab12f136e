"""The S3 paths the Spark job reads and writes for a given argument list, from the job's own path
functions (card_features.args, .plan, .manifest, .ledger, .offline_publish, .failures), for the IAM test
(test/aws/iam-simulation.test.ts). Reads the job's argv as a JSON list on stdin; prints a JSON list of
{"action": "read"|"write"|"delete"|"list", "uri": ..., "why": ...}.

Spark writes through hidden names under the table it writes (dynamic partition overwrite stages under
`.spark-staging-<id>/`, the file committer under `_temporary/`), then moves them (a copy and a delete
on S3): each written table is listed with those names as well. Silver and quarantine go through the
attempt's staging and are swapped in under each day's lock object (card_features.lake_swap, .day_lock).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "spark_jobs"))

from card_features import args, failures, lake_swap, ledger, manifest, offline_publish, plan, transform  # noqa: E402
from card_features.definitions import get_definition  # noqa: E402


def staged_swap(add, cfg, table, day, why):
    """The attempt's staging written by Spark, then the day swapped in under its lock object."""
    stage, part = lake_swap.staging_dir(cfg, table), "part-00000.snappy.parquet"
    staged, final = f"{stage}/dt={day}/{part}", f"{plan.day_partition(table, day)}/{part}"
    temp = f"{stage}/_temporary/0/_temporary/attempt_0/dt={day}/{part}"
    add("write", temp, f"{why} (file committer)")
    add("delete", temp, f"{why} (committer cleanup)")
    add("write", staged, f"{why} (this attempt's staging)")
    add("write", f"{stage}/_SUCCESS", f"{why} (staging's success marker)")
    add("list", stage, f"{why} (staged days)")
    lock = lake_swap.lock_uri(table, day)
    add("write", lock, f"{why}: the day's swap lock (conditional PUT: create, or take over an expired one)")
    add("read", lock, f"{why}: the day's swap lock (holder, expiry)")
    add("delete", lock, f"{why}: the day's swap lock released")
    add("delete", final, f"{why} (the day replaced, or emptied)")
    add("read", staged, f"{why} (moved in: copy)")
    add("write", final, f"{why} (moved in: copy)")
    add("delete", staged, f"{why} (moved in: delete)")
    add("delete", f"{stage}/_SUCCESS", f"{why} (staging removed)")
    add("list", plan.day_partition(table, day), why)


def job_paths(argv):
    error_path, rest = failures.split_error_path(argv)
    cfg = args.parse_args(rest)
    definition = get_definition(cfg.feature_version)
    out = []

    def add(action, uri, why):
        out.append({"action": action, "uri": uri, "why": why})

    def table_write(table, partition, why):
        """A partitioned write: the final files, Spark's staging and the committer's temporary files."""
        add("write", f"{partition}/part-00000.snappy.parquet", why)
        add("write", f"{table}/.spark-staging-0/{partition[len(table) + 1:]}/part-00000.snappy.parquet",
            f"{why} (dynamic overwrite staging)")
        add("write", f"{table}/_temporary/0/_temporary/attempt_0/part-00000.snappy.parquet",
            f"{why} (file committer)")
        add("delete", f"{table}/_temporary/0/_temporary/attempt_0/part-00000.snappy.parquet",
            f"{why} (committer cleanup)")
        add("delete", f"{partition}/part-00000.snappy.parquet", f"{why} (partition replaced)")
        add("list", partition, why)

    days = [d.isoformat() for d in transform.date_range(cfg.start, cfg.end)]
    for d in transform.bronze_dates_to_read(cfg.start, cfg.end, definition.lookback_seconds, cfg.lateness_days):
        part = plan.day_partition(cfg.bronze_table, d.isoformat())
        add("list", part, "bronze partitions of the chunk, lookback and lateness")
        add("read", f"{part}/part-00000.json.gz", "bronze events")
    for d in days:
        staged_swap(add, cfg, cfg.silver_table, d, "silver")
        staged_swap(add, cfg, cfg.quarantine_table, d, "quarantine")
        run_dir = ledger.run_location(cfg.gold_table, cfg.feature_version, d, cfg.run_id)
        table_write(cfg.gold_table, run_dir, "gold of this run")
        add("read", f"{ledger.flat_location(cfg.gold_table, cfg.feature_version, d)}/part-00000.snappy.parquet",
            "current gold (flat layout of older runs)")
        commit = ledger.commit_path(cfg.ledger_root, cfg.feature_version, d)
        add("read", commit, "gold commit record")
        add("write", commit, "gold commit record")
    add("write", cfg.manifest_path or manifest.manifest_path(cfg, cfg.start, cfg.end), "manifest")
    if error_path:
        add("read", error_path, "an earlier attempt's error record")
        add("delete", error_path, "an earlier attempt's error record")
        add("write", error_path, "the error record")
    for d in cfg.offline_publish_dates or []:
        pub = offline_publish.publication_path(cfg.ledger_root, cfg.feature_group, cfg.feature_version, d)
        add("read", pub, "publication record")
        add("write", pub, "publication record (in_progress, done)")
        if cfg.offline_store.startswith("local:"):
            root = cfg.offline_store[len("local:"):]
            add("write", f"{root}/_staging/feature_version={cfg.feature_version}/run={cfg.run_id}/dt={d}/x.parquet",
                "local offline store staging")
            add("write", f"{root}/data/year=2025/month=01/day=01/hour=00/x.parquet", "local offline store")
    return out


if __name__ == "__main__":
    json.dump(job_paths(json.load(sys.stdin)), sys.stdout, indent=1)
