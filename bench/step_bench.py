#!/usr/bin/env python3
"""JVM CPU of the feature job's steps one at a time, with variants, on one generated day (#22).

    .venv/bin/python bench/step_bench.py --lake DIR/events-1000000 [--steps parse,cache,dedup,features] [--repeat 2]

DIR/events-N is a lake that `bench/spark_bench.py --lake DIR` generated (or reused). One local[2]
session: the day's bronze is read, spread and parsed as the job does and cached; then each step
variant runs on the same cached input (its output written to the `noop` sink, so no file I/O) after
one untimed warm-up, `--repeat` times (`cache`: the parse and line counts with and without the
parsed cache; `features` also times the dedup into the cache and the silver write). Printed: the
minimum JVM CPU and wall seconds of each variant, and a checksum of its rows (count and a sum of row
hashes) to compare variants that should give the same rows. This times steps, not the job:
`npm run bench:spark` is the measure of record.
"""
import argparse
import datetime as dt
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "spark_jobs"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from pyspark.sql import functions as F  # noqa: E402

DAY = dt.date(2025, 10, 1)


def checksum(df) -> tuple:
    row = df.select(F.count(F.lit(1)), F.sum(F.xxhash64(*df.columns))).first()
    return tuple(row)


def run(jvm, name: str, make, repeat: int) -> None:
    df = make()
    make().write.format("noop").mode("overwrite").save()  # warm-up
    best = None
    for _ in range(repeat):
        t, c = time.time(), jvm.cpu()
        make().write.format("noop").mode("overwrite").save()
        took = (time.time() - t, jvm.cpu() - c)
        best = took if best is None or took[1] < best[1] else best
    print(f"{name}: {best[1]:.2f}s JVM CPU, {best[0]:.2f}s wall; rows/checksum {checksum(df)}; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)


def timed(jvm, step) -> tuple:
    t, c = time.time(), jvm.cpu()
    out = step()
    return out, time.time() - t, jvm.cpu() - c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lake", required=True)
    p.add_argument("--steps", default="parse,dedup,features")
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args()
    from card_features import job, transform
    from card_features.definitions import get_definition
    import step_variants as v
    from spark_bench import Jvm

    spark = job.build_spark("step_bench", master="local[2]", extra_conf={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "4g"})
    spark.sparkContext.setLogLevel("ERROR")
    try:
        jvm = Jvm(spark)
        table = os.path.join(a.lake, "bronze", "streaming", "card_authorization")
        paths = [os.path.join(table, d) for d in sorted(os.listdir(table)) if d.startswith("dt=")]
        raw = spark.read.option("basePath", table).text(paths).repartition(4, "value")
        definition = get_definition("v1")
        steps = a.steps.split(",")
        if "parse" in steps:
            for name, parse in v.PARSE.items():
                run(jvm, f"parse {name}", lambda: parse(raw, 1), a.repeat)
        parsed = transform.parse_bronze(raw, 1)
        if "cache" in steps:
            for _ in range(a.repeat):
                _, wall, cpu = timed(jvm, lambda: transform.line_counts(parsed).collect())
                print(f"parse + line counts, no cache: {cpu:.2f}s JVM CPU, {wall:.2f}s wall", flush=True)
                parsed.persist()
                _, wall, cpu = timed(jvm, lambda: transform.line_counts(parsed).collect())
                print(f"parse into the cache + line counts: {cpu:.2f}s JVM CPU, {wall:.2f}s wall", flush=True)
                _, wall, cpu = timed(jvm, lambda: transform.line_counts(parsed).collect())
                print(f"line counts from the cache: {cpu:.2f}s JVM CPU, {wall:.2f}s wall", flush=True)
                parsed.unpersist(blocking=True)
        parsed = parsed.persist()
        parsed.count()
        lookback = transform.lookback_start(DAY, definition.lookback_seconds).isoformat()
        in_scope = parsed.where(F.col("reason").isNull() & F.col("event_dt").between(lookback, DAY.isoformat()))
        if "dedup" in steps:
            for name, dedup in v.DEDUP.items():
                run(jvm, f"dedup {name}", lambda: dedup(in_scope.repartition(4, "event_id")), a.repeat)
        if "features" in steps:
            silver = transform.deduplicate(in_scope.repartition(4, "event_id")).persist()
            _, wall, cpu = timed(jvm, silver.count)
            print(f"dedup into the cache (count): {cpu:.2f}s JVM CPU, {wall:.2f}s wall", flush=True)
            out = os.path.join(a.lake, "_step_bench_silver")
            for i in range(a.repeat):
                _, wall, cpu = timed(jvm, lambda: silver.write.mode("overwrite").partitionBy("dt").parquet(out))
                print(f"silver write from the cache: {cpu:.2f}s JVM CPU, {wall:.2f}s wall", flush=True)
            for name, gold in v.FEATURES.items():
                run(jvm, f"features {name}", lambda: gold(silver, definition, [DAY.isoformat()]), a.repeat)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
