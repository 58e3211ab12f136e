"""The plain Spark SQL job that the feature job is measured against (bench only, not the product).

What a data engineer would write from the pipeline's old guide: Spark's JSON reader with the bronze
schema over the day's arrival partitions plus the lookback and lateness days, the validity filters,
row_number dedup on event_id by earliest arrival, silver written by event date, then the four
features as window functions over epoch seconds (count and sum over rangeBetween(-3600|-86400, 0),
distinct merchants as size(collect_set(merchant_id))), gold written. No quarantine, manifest, ledger
or lineage: the same I/O and shuffles, none of the bookkeeping.
"""
import datetime as dt
from typing import List

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

from card_features.transform import BRONZE_SCHEMA

VALID_STATUSES = ("APPROVED", "DECLINED")


def run_plain_job(spark: SparkSession, bronze: str, paths: List[str], day: dt.date, out: str,
                  lateness_days: int) -> None:
    """Silver and gold of `day` from the bronze `paths` (dt=... folders under `bronze`) into `out`."""
    events = spark.read.schema(BRONZE_SCHEMA).option("basePath", bronze).json(paths)
    event_day = F.floor(F.col("event_time") / 86400).cast("int")
    arrival_day = F.datediff(F.col("dt").cast("date"), F.lit("1970-01-01").cast("date"))
    valid = (
        events.where(
            F.col("event_id").isNotNull() & F.col("card_id").isNotNull() & F.col("merchant_id").isNotNull()
            & F.col("amount").isNotNull() & F.col("event_time").isNotNull()
            & F.col("status").isin(*VALID_STATUSES) & F.col("currency").rlike("^[A-Z]{3}$")
            & (F.col("amount") > 0)
        )
        .where((arrival_day - event_day >= 0) & (arrival_day - event_day <= lateness_days))
    )
    first_arrival = Window.partitionBy("event_id").orderBy(F.col("dt"), F.col("event_time"))
    silver = (
        valid.withColumn("rn", F.row_number().over(first_arrival)).where("rn = 1")
        .withColumn("event_dt", F.date_format(F.from_unixtime(F.col("event_time")), "yyyy-MM-dd"))
        .drop("rn", "dt").withColumnRenamed("event_dt", "dt")
    )
    silver.write.mode("overwrite").partitionBy("dt").parquet(f"{out}/silver")

    silver = spark.read.parquet(f"{out}/silver")
    by_time = Window.partitionBy("card_id").orderBy("event_time")
    hour, day_window = by_time.rangeBetween(-3600, 0), by_time.rangeBetween(-86400, 0)
    gold = (
        silver.select(
            "card_id", "event_id", "event_time", "dt",
            F.count(F.lit(1)).over(hour).alias("txn_count_1h"),
            F.count(F.lit(1)).over(day_window).alias("txn_count_24h"),
            F.sum("amount").over(day_window).alias("amount_sum_24h"),
            F.size(F.collect_set("merchant_id").over(day_window)).alias("merchant_count_24h"),
        )
        .where(F.col("dt") == day.isoformat())
    )
    gold.write.mode("overwrite").partitionBy("dt").parquet(f"{out}/gold")
