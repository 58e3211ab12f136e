"""Silver and quarantine days replaced by one writer at a time.

Silver and quarantine are per lake, not per feature version, while the backfill lease is per (lake,
version): backfills of two versions over the same days run at once, and both jobs replace the same
silver and quarantine days (with the same rows: silver does not depend on the version). A Spark dynamic
partition overwrite swaps a day in with a delete and a rename and no coordination, so two swaps of
one day interleaved could leave both jobs' files (each event twice), a nested `dt=D/dt=D/`, or none.

So each job attempt
1. writes the rows to its own staging, `<table>/_staging/run=R/attempt=A/dt=D/` (contract path
   `swap_staging`; hidden: readers skip `_x`), which no other attempt writes, lists or deletes;
2. swaps each staged day in under the day's lock (day_lock.py), which every writer of the lake takes:
   delete the day's directory, confirm the lock is still its own (renewed), rename the staged one to it,
   release. A day the chunk emptied is deleted under the same lock;
3. deletes its staging.

Only the swap (seconds) is serialized, never the compute. A job killed between 1 and 3 leaves its
staging behind (hidden, never read): on S3 a lifecycle rule removes it (docs/aws.md); locally
`_staging/` may be deleted while no job runs.
"""
from typing import Iterable

from pyspark.sql import DataFrame

from . import contract, day_lock
from .plan import day_partition


def staging_dir(cfg, table: str) -> str:
    """This job attempt's own staging for `table`."""
    return contract.path("swap_staging", table=table, run_id=cfg.run_id, attempt=cfg.attempt_id)


def lock_uri(table: str, day: str) -> str:
    return contract.path("swap_lock", table=table, dt=day)


def replace_days(fs, cfg, df: DataFrame, table: str) -> None:
    """Replace exactly the days present in `df` (its `dt` column) in `table`, each under its lock."""
    stage = staging_dir(cfg, table)
    # At most one writing task per core: no flood of tiny files (and file commits) when the frame
    # has many small partitions, e.g. when it comes from a cached shuffle output.
    tasks = max(1, df.sparkSession.sparkContext.defaultParallelism)
    try:
        # The staging is this attempt's alone: a plain (static) overwrite of it touches nobody else's.
        (
            df.coalesce(tasks)
            .write.mode("overwrite")
            .option("partitionOverwriteMode", "static")
            .partitionBy("dt")
            .parquet(stage)
        )
        me = day_lock.owner(cfg.attempt_id, cfg.run_id)
        for name in fs.subdirectories(stage):
            if name.startswith("dt="):
                day = name[len("dt="):]
                with day_lock.hold(fs, lock_uri(table, day), me) as lock:
                    target = day_partition(table, day)
                    fs.delete(target)
                    lock.confirm()  # a delete that outlasted the lock's expiry must not rename over a new holder
                    fs.rename(f"{stage}/{name}", target)
    finally:
        fs.delete(stage)


def drop_days(fs, cfg, table: str, days: Iterable[str]) -> None:
    """Delete these days of `table` (emptied by the chunk), each under its lock."""
    me = day_lock.owner(cfg.attempt_id, cfg.run_id)
    for day in days:
        target = day_partition(table, day)
        if fs.exists(target):
            with day_lock.hold(fs, lock_uri(table, day), me):
                fs.delete(target)
