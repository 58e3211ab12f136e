"""Spark entry for tests of the memory ladder (test/self-healing.test.ts): the real job, whose driver
needs more memory than the first rung gives. With CARD_FEATURES_TEST_NEEDS_DRIVER_MEMORY_MB=N, a run
whose driver has less than N MiB meets a real java.lang.OutOfMemoryError (an allocation as large as its
whole heap) inside the job's run, where the job names its failures. Unset: the job as deployed.

The job itself has no such hook: this entry wraps card_features.job.run before calling job.main.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "spark_jobs"))

from card_features import job  # noqa: E402

NEED_ENV = "CARD_FEATURES_TEST_NEEDS_DRIVER_MEMORY_MB"


def memory_mb(value: str) -> float:
    """Spark's memory strings (512m, 2g) in MiB."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", value.lower())
    if not m:
        return 0.0
    return float(m.group(1)) * {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 2**20}[m.group(2)]


def needing_memory(run):
    def run_with_need(spark, cfg):
        need = os.environ.get(NEED_ENV)
        if need and memory_mb(spark.sparkContext.getConf().get("spark.driver.memory", "1g")) < float(need):
            jvm = spark.sparkContext._jvm
            heap = jvm.java.lang.Runtime.getRuntime().maxMemory()
            jvm.java.nio.ByteBuffer.allocate(int(min(heap, 2**31 - 16)))
        return run(spark, cfg)

    return run_with_need


if __name__ == "__main__":
    job.run = needing_memory(job.run)
    sys.exit(job.main(sys.argv[1:]))
