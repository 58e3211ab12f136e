"""The Spark session the job runs on, and what of it each gold commit's lineage records."""
import os
from typing import Dict, Optional

from pyspark.sql import SparkSession

# Session settings the job relies on; tests and the benchmark build their sessions from the same dict.
SPARK_CONF = {
    # Overwrite replaces only the (feature_version, dt) partitions present in the written frame.
    # (Each write also passes this as an option, so a session configured otherwise is still safe.)
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Keep `dt=YYYY-MM-DD` a string, as the contract writes it.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    # The job caches the parsed input and the deduplicated events of a chunk. Uncompressed columnar
    # cache: building the compressed one costs about as much CPU as parsing the JSON in the first place.
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    # Partitioned writes keep one open file per partition value in a task (up to 4; past that Spark
    # falls back to sorting) instead of sorting every row by the partition columns first: a chunk's
    # task holds rows of a few days, and the sort cost 0.7 s CPU per 1M-row write (#22).
    "spark.sql.optimizer.plannedWrite.enabled": "false",
    "spark.sql.maxConcurrentOutputFileWriters": "4",
}

# Spark settings recorded in each gold commit's lineage: the ones that size or shape the computation.
LINEAGE_SPARK_KEYS = ("spark.master", "spark.app.id", "spark.executor.memory", "spark.executor.cores",
                      "spark.executor.instances", "spark.driver.memory", "spark.driver.cores",
                      "spark.dynamicAllocation.enabled", "spark.dynamicAllocation.maxExecutors",
                      "spark.sql.shuffle.partitions", "spark.default.parallelism", "spark.sql.adaptive.enabled",
                      *SPARK_CONF)


def build_spark(app_name: str = "backfill_features", master: Optional[str] = None,
                extra_conf: Optional[Dict[str, str]] = None) -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in {**SPARK_CONF, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def job_lineage(spark: SparkSession) -> Dict:
    """The job run and its Spark settings, the same for every day the run commits."""
    conf = dict(spark.sparkContext.getConf().getAll())
    # EMR Serverless names its job run in the environment; elsewhere (local spark-submit) there is none.
    job_run_id = os.environ.get("EMR_SERVERLESS_JOB_RUN_ID") or conf.get("spark.emr-serverless.jobRunId")
    settings = {k: conf[k] for k in LINEAGE_SPARK_KEYS if k in conf}
    settings["spark.app.id"] = spark.sparkContext.applicationId
    return {"job_run_id": job_run_id, "spark_version": spark.version, "spark_conf": settings}
