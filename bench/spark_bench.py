#!/usr/bin/env python3
"""Spark feature job vs a bare scan of the same bronze input, on one generated day of 1,000,000 events.

    .venv/bin/python bench/spark_bench.py [--lake DIR] [--events N] [--cards N]

Generates the day with scripts/generate_sample_data.py (seeded, so always the same bytes; reused if
--lake already holds it), then in one local[2] Spark session: warms the JVM up with an untimed scan,
times a bare scan (spark.read.text + count) of the bronze partitions the chunk reads, and times the
feature job's run_chunk for that day (parse, dedup, windows, silver/gold/quarantine writes, stats),
then, for context, the JSON parse alone. Wall times are printed with the JVM's CPU seconds (less
sensitive to other load on the machine). The last line is `spark features/scan: R` (wall times).
"""
import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "spark_jobs"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from generate_sample_data import write_lake  # noqa: E402

DAY = dt.date(2025, 10, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lake", help="lake directory to (re)use; default: a temporary one, removed afterwards")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--cards", type=int, default=50_000)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--conf", action="append", default=[], help="extra Spark setting key=value (repeatable)")
    p.add_argument("--driver-memory", default="4g", help="local mode: the one JVM runs driver and executors")
    a = p.parse_args()

    lake = a.lake or tempfile.mkdtemp(prefix="spark-bench-")
    stamp = os.path.join(lake, "bench.json")
    spec = {"day": DAY.isoformat(), "events": a.events, "cards": a.cards, "seed": 7}
    if not (os.path.exists(stamp) and json.load(open(stamp)) == spec):
        shutil.rmtree(os.path.join(lake, "bronze"), ignore_errors=True)
        t = time.time()
        written = write_lake(lake, DAY, 1, a.events, a.cards, 7)
        with open(stamp, "w") as f:
            json.dump(spec, f)
        print(f"generated {sum(written.values())} bronze lines in {time.time() - t:.1f}s: {written}", flush=True)
    for out in ("silver", "gold", "quarantine", "_manifests"):
        shutil.rmtree(os.path.join(lake, out), ignore_errors=True)

    from card_features import job, transform
    from card_features.definitions import get_definition

    spark = job.build_spark("spark_bench", master=a.master, extra_conf={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": a.driver_memory,
        **dict(kv.split("=", 1) for kv in a.conf)})
    spark.sparkContext.setLogLevel("ERROR")
    try:
        cfg = job.parse_args(["--bucket", lake, "--start-date", DAY.isoformat(), "--end-date", DAY.isoformat(),
                              "--overwrite"])
        fs = job.LakeFs(spark)
        lookback = get_definition(cfg.feature_version).lookback_seconds
        wanted = [d.isoformat() for d in transform.bronze_dates_to_read(DAY, DAY, lookback, cfg.lateness_days)]
        paths = [f"{cfg.bronze_table}/dt={d}" for d in wanted if fs.has_data_files(f"{cfg.bronze_table}/dt={d}")]

        pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()

        def jvm_cpu() -> float:
            """CPU seconds used so far by the (local-mode) JVM: less sensitive than wall time to other load."""
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        def scan() -> int:
            return spark.read.option("basePath", cfg.bronze_table).text(paths).count()

        scan()  # JVM and file-system warm-up, untimed
        t, c = time.time(), jvm_cpu()
        lines = scan()
        scan_s, scan_cpu = time.time() - t, jvm_cpu() - c

        t, c = time.time(), jvm_cpu()
        manifest = job.run_chunk(spark, fs, cfg, DAY, DAY, job.code_revision("bench"))
        features_s, features_cpu = time.time() - t, jvm_cpu() - c
        load = os.getloadavg()[0]

        # For context (after the job, so it does not warm anything up for it): the JSON parse alone.
        from pyspark.sql import functions as F
        t = time.time()
        parsed = transform.parse_bronze(spark.read.option("basePath", cfg.bronze_table).text(paths), cfg.lateness_days)
        parsed.agg(*[F.count(c) for c in parsed.columns]).collect()
        parse_s = time.time() - t
    finally:
        spark.stop()
        if not a.lake:
            shutil.rmtree(lake, ignore_errors=True)

    print(f"bronze partitions read: {', '.join(p.rsplit('dt=', 1)[1] for p in paths)}; lines: {lines}")
    print(f"gold rows: {manifest['output_rows']}, quarantined: {manifest['quarantined_rows']}, "
          f"duplicates removed: {manifest['duplicates_removed']}")
    print(f"feature job phases: {manifest.get('phase_seconds')}")
    print(f"load average (1 min) after the run: {load:.2f} on {os.cpu_count()} cores")
    print(f"scan (spark.read.text + count): {scan_s:.2f}s wall, {scan_cpu:.2f}s JVM CPU")
    print(f"features (run_chunk): {features_s:.2f}s wall, {features_cpu:.2f}s JVM CPU")
    print(f"for context, parse only (text + from_json + checks, no dedup/windows/writes): {parse_s:.2f}s")
    print(f"JVM CPU features/scan: {features_cpu / scan_cpu:.2f}")
    print(f"spark features/scan: {features_s / scan_s:.2f}")


if __name__ == "__main__":
    main()
