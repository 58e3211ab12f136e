"""The Python side of test/contract.test.ts: what the Spark job's own functions resolve for the job
arguments the worker builds. Reads {"argv", "days", "commit", "values", "group"} as JSON on stdin;
prints the job's paths, schemas and publication records as JSON."""
import datetime as dt
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "spark_jobs"))

from card_features import args, contract, failures, ledger, manifest, offline_publish, plan, transform  # noqa: E402


def resolve(given):
    _, argv = failures.split_error_path(given["argv"])
    cfg = args.parse_args(argv)
    day = given["days"][0]
    start, end = dt.date.fromisoformat(given["days"][0]), dt.date.fromisoformat(given["days"][-1])
    commit = given["commit"]
    return {
        "paths": {
            "bronze_table": cfg.bronze_table,
            "bronze_partition": plan.day_partition(cfg.bronze_table, day),
            "gold_table": cfg.gold_table,
            "ledger_root": cfg.ledger_root,
            "gold_partition": ledger.flat_location(cfg.gold_table, cfg.feature_version, day),
            "gold_commit": ledger.commit_path(cfg.ledger_root, cfg.feature_version, day),
            "publication": offline_publish.publication_path(cfg.ledger_root, cfg.feature_group, cfg.feature_version, day),
            "chunk_manifest": manifest.manifest_path(cfg, start, end),
            "local_catalog": contract.path("local_catalog", root=cfg.lake_root),
            "local_feature_store": contract.path("local_feature_store", root=cfg.lake_root),
            "local_offline_store": offline_publish.local_store_root(cfg.lake_root, cfg.feature_group),
        },
        "schemas": {
            "gold_file_columns": [[c, contract.GOLD_FILE_TYPES[c]] for c in transform.GOLD_COLUMNS
                                  if c not in contract.GOLD_PARTITIONS],
            "record_features": contract.RECORD_FEATURES,
            "offline_store_columns": contract.OFFLINE_STORE_COLUMNS,
            "feature_store_types": contract.FEATURE_STORE_TYPES,
        },
        "new_publication": contract.new_publication(commit, given["values"]),
        "spark_publication": offline_publish._record(cfg, day, commit, None, [], status="in_progress"),
    }


if __name__ == "__main__":
    json.dump(resolve(json.load(sys.stdin)), sys.stdout)
