"""The Spark half of bench:publish (bench/publish.ts): N gold records of the sample schema, laid out
by card over D days with their ledger commits, published into the local offline store by the job's
own code (card_features.offline_publish.publish_days); prints one JSON line with the time.

The time is the publication's alone: on EMR the job's session is already up when it publishes, so
JVM start and the gold's generation are not counted. Usage: publish_spark.py LAKE RECORDS DAYS
"""
import datetime as dt
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "spark_jobs"))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from pyspark.sql import functions as F  # noqa: E402

from card_features import job, ledger, offline_publish  # noqa: E402

GROUP = "rt_card_features_v1"
CARDS = 997


def make_gold(spark, fs, cfg, records: int, days: list) -> None:
    per_day = records // len(days)
    for i, day in enumerate(days):
        n = per_day + (1 if i < records % len(days) else 0)
        base = int(dt.datetime.fromisoformat(f"{day}T00:00:00+00:00").timestamp())
        per_card = -(-n // CARDS)
        location = ledger.run_location(cfg.gold_table, "v1", day, "bench")
        (spark.range(n).select(
            F.concat(F.lit("card_"), (F.col("id") / per_card).cast("long").cast("string")).alias("card_id"),
            F.concat(F.lit(f"{day}-evt-"), F.col("id").cast("string")).alias("event_id"),
            (F.lit(base) + (F.col("id") * 86399 / n).cast("long")).alias("event_time"),
            (1 + F.col("id") % 3).cast("int").alias("txn_count_1h"),
            (1 + F.col("id") % 17).cast("int").alias("txn_count_24h"),
            ((F.col("id") % 500) + 0.25).alias("amount_sum_24h"),
            (1 + F.col("id") % 5).cast("int").alias("merchant_count_24h"),
        ).write.mode("overwrite").parquet(location))
        commit = {"dt": day, "feature_version": "v1", "run_id": "bench", "location": location,
                  "files": fs.data_files(location), "rows": n}
        fs.write_text(ledger.commit_path(cfg.ledger_root, "v1", day), json.dumps(commit))


def main() -> None:
    lake, records, ndays = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    days = [(dt.date(2025, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(ndays)]
    cfg = job.parse_args(["--bucket", lake, "--start-date", days[0], "--end-date", days[-1], "--run-id", "bench",
                          "--feature-group", GROUP, "--offline-publish-dates", ",".join(days)])
    spark = job.build_spark("bench_publish", master="local[*]", extra_conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    try:
        fs = job.LakeFs(spark)
        make_gold(spark, fs, cfg, records, days)
        t0 = time.perf_counter()
        out = offline_publish.publish_days(spark, fs, cfg, days)
        seconds = time.perf_counter() - t0
        root = offline_publish.local_store_root(cfg.lake_root, GROUP)[len("file://"):]
        files = glob.glob(os.path.join(root, "data", "**", "*.parquet"), recursive=True)
        stored = spark.read.parquet(*files).count()
        published = sum(d["records"] for d in out.values())
    finally:
        spark.stop()
    print(json.dumps({"records": published, "stored": stored, "seconds": seconds, "days": ndays}))


if __name__ == "__main__":
    main()
