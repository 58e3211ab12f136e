#!/usr/bin/env python3
"""Spark feature job vs its I/O floor on generated days of card events, with JVM CPU and heap.

    .venv/bin/python bench/spark_bench.py [--lake DIR] [--events N[,N...]] [--cards-per-event R]
    BENCH_EVENTS=1000000,4000000 npm run bench:spark     # the scaling run

For each size (default 1,000,000 events; BENCH_EVENTS or --events take a comma-separated list) it
generates one day with scripts/generate_sample_data.py (seeded, so always the same bytes; reused when
--lake already holds it; cards = events / 20 unless --cards is given, so every size has the same
events per card). One local[2] Spark session runs everything: an untimed warm-up of both measured
steps on a small day (JIT compilation would otherwise be billed to whichever step runs first), then,
per size:

- the floor: the same bronze partitions the job reads, read with the bronze schema (Spark's JSON
  reader) and written back as parquet partitioned by dt: the least any job over this input must do;
- the feature job: run_chunk of that day (parse and checks, dedup, windows, quarantine/silver/gold
  writes, ledger commit).

Each is timed in wall seconds and in the JVM's CPU seconds (from /proc; local mode runs driver and
executors in one JVM, so this is all of Spark's work), and the job's peak heap is sampled. With two or
more sizes it prints JVM CPU seconds per million events for each and `spark cpu <big>/<small>: X`
(largest vs smallest). The last line is always `spark features/floor: R` (wall, first size).
"""
import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "spark_jobs"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from generate_sample_data import write_lake  # noqa: E402

DAY = dt.date(2025, 10, 1)
EVENTS_PER_CARD = 20
WARMUP_EVENTS = 100_000


def ensure_lake(lake: str, events: int, cards: int) -> None:
    """Generate the day into `lake` unless it already holds exactly this one; clear earlier outputs."""
    stamp = os.path.join(lake, "bench.json")
    spec = {"day": DAY.isoformat(), "events": events, "cards": cards, "seed": 7}
    if not (os.path.exists(stamp) and json.load(open(stamp)) == spec):
        shutil.rmtree(os.path.join(lake, "bronze"), ignore_errors=True)
        t = time.time()
        written = write_lake(lake, DAY, 1, events, cards, 7)
        with open(stamp, "w") as f:
            json.dump(spec, f)
        print(f"generated {sum(written.values())} bronze lines in {time.time() - t:.1f}s: {written}", flush=True)
    for out in ("silver", "gold", "quarantine", "_manifests", "_ledger", "_floor"):
        shutil.rmtree(os.path.join(lake, out), ignore_errors=True)


class Jvm:
    """CPU seconds and heap of the session's (local-mode) JVM."""

    def __init__(self, spark):
        jvm = spark.sparkContext._jvm
        self.pid = jvm.java.lang.ProcessHandle.current().pid()
        self._memory = jvm.java.lang.management.ManagementFactory.getMemoryMXBean()
        self.max_heap = self._memory.getHeapMemoryUsage().getMax()
        self._peak = 0
        self._stop = threading.Event()

    def cpu(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self._peak = max(self._peak, self._memory.getHeapMemoryUsage().getUsed())

    def watch_heap(self):
        """Context: samples used heap every 0.2 s; `.peak` is the largest sample (bytes)."""
        jvm = self

        class Watch:
            def __enter__(self):
                jvm._memory.gc()  # start from the live set, not from an earlier step's garbage
                jvm._peak, jvm._stop = 0, threading.Event()
                self.thread = threading.Thread(target=jvm._sample, daemon=True)
                self.thread.start()
                return self

            def __exit__(self, *exc):
                jvm._stop.set()
                self.thread.join()
                self.peak = jvm._peak

        return Watch()


def measure(spark, jvm: Jvm, lake: str, label: str) -> dict:
    """Time the floor, then the feature job, on the day in `lake` (already generated)."""
    from card_features import job, transform
    from card_features.definitions import get_definition

    cfg = job.parse_args(["--bucket", lake, "--start-date", DAY.isoformat(), "--end-date", DAY.isoformat(),
                          "--overwrite", "--run-id", "bench"])
    fs = job.LakeFs(spark)
    lookback = get_definition(cfg.feature_version).lookback_seconds
    wanted = [d.isoformat() for d in transform.bronze_dates_to_read(DAY, DAY, lookback, cfg.lateness_days)]
    paths = [f"{cfg.bronze_table}/dt={d}" for d in wanted if fs.has_data_files(f"{cfg.bronze_table}/dt={d}")]

    t, c = time.time(), jvm.cpu()
    (spark.read.schema(transform.BRONZE_SCHEMA).option("basePath", cfg.bronze_table).json(paths)
     .write.mode("overwrite").partitionBy("dt").parquet(f"{cfg.lake_root}/_floor"))
    floor_s, floor_cpu = time.time() - t, jvm.cpu() - c

    with jvm.watch_heap() as heap:
        t, c = time.time(), jvm.cpu()
        manifest = job.run_chunk(spark, fs, cfg, DAY, DAY, job.code_revision("bench"))
        features_s, features_cpu = time.time() - t, jvm.cpu() - c
    return {"label": label, "paths": paths, "manifest": manifest, "floor_s": floor_s, "floor_cpu": floor_cpu,
            "features_s": features_s, "features_cpu": features_cpu, "heap_peak": heap.peak,
            "load": os.getloadavg()}


def report(r: dict, events: int) -> None:
    m, mb = r["manifest"], 1024 * 1024
    load = " ".join(f"{x:.2f}" for x in r["load"])
    print(f"== {events:,} events ({r['label']}): bronze {', '.join(p.rsplit('dt=', 1)[1] for p in r['paths'])}; "
          f"rows read {m.rows_read}, gold {m.output_rows}, quarantined {m.quarantined_rows}, "
          f"duplicates removed {m.duplicates_removed}")
    print(f"feature job phases (wall s): {m.phase_seconds}")
    print(f"load average after it (1/5/15 min): {load} on {os.cpu_count()} cores")
    print(f"floor (JSON reader with the bronze schema -> parquet): {r['floor_s']:.2f}s wall, "
          f"{r['floor_cpu']:.2f}s JVM CPU")
    print(f"features (run_chunk): {r['features_s']:.2f}s wall, {r['features_cpu']:.2f}s JVM CPU, "
          f"peak heap used {r['heap_peak'] / mb:.0f} MB")
    print(f"JVM CPU per million events: features {r['features_cpu'] / (events / 1e6):.2f}s, "
          f"floor {r['floor_cpu'] / (events / 1e6):.2f}s")
    print(f"JVM CPU features/floor: {r['features_cpu'] / r['floor_cpu']:.2f}", flush=True)


def sizes_from(text: str) -> list:
    sizes = [int(x) for x in text.split(",") if x.strip()]
    if not sizes or min(sizes) < 1000:
        raise SystemExit(f"events: {text!r} is not a comma-separated list of sizes of at least 1000")
    return sizes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lake", help="directory for the generated lakes (one per size), kept for reuse; "
                                  "default: a temporary one, removed afterwards")
    p.add_argument("--events", default=os.environ.get("BENCH_EVENTS", "1000000"),
                   help="events per day, or a comma-separated list of sizes (env BENCH_EVENTS)")
    p.add_argument("--cards", type=int, default=int(os.environ.get("BENCH_CARDS", "0")),
                   help=f"cards (env BENCH_CARDS); default events / {EVENTS_PER_CARD}")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--conf", action="append", default=[], help="extra Spark setting key=value (repeatable)")
    p.add_argument("--driver-memory", default="4g", help="local mode: the one JVM runs driver and executors")
    a = p.parse_args()
    sizes = sizes_from(a.events)

    base = a.lake or tempfile.mkdtemp(prefix="spark-bench-")
    lakes = {}
    for n in [WARMUP_EVENTS] + sizes:
        lakes[n] = os.path.join(base, f"events-{n}")
        ensure_lake(lakes[n], n, a.cards or max(1, n // EVENTS_PER_CARD))

    from card_features import job

    print(f"load average before (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    spark = job.build_spark("spark_bench", master=a.master, extra_conf={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": a.driver_memory,
        **dict(kv.split("=", 1) for kv in a.conf)})
    spark.sparkContext.setLogLevel("ERROR")
    results = {}
    try:
        jvm = Jvm(spark)
        measure(spark, jvm, lakes[WARMUP_EVENTS], "warm-up")  # untimed: JIT and file-system warm-up
        ensure_lake(lakes[WARMUP_EVENTS], WARMUP_EVENTS, a.cards or WARMUP_EVENTS // EVENTS_PER_CARD)
        for n in sizes:
            results[n] = measure(spark, jvm, lakes[n], "measured")
            report(results[n], n)
            ensure_lake(lakes[n], n, a.cards or max(1, n // EVENTS_PER_CARD))  # drop the outputs
        print(f"JVM max heap: {jvm.max_heap / 1024 / 1024:.0f} MB (--driver-memory {a.driver_memory})")
    finally:
        spark.stop()
        if not a.lake:
            shutil.rmtree(base, ignore_errors=True)

    if len(sizes) > 1:
        small, big = min(sizes), max(sizes)
        per_m = {n: results[n]["features_cpu"] / (n / 1e6) for n in (small, big)}
        print(f"scaling: features JVM CPU per million events {per_m[small]:.2f}s at {small:,}, "
              f"{per_m[big]:.2f}s at {big:,}; peak heap {results[small]['heap_peak'] / 2**20:.0f} MB, "
              f"{results[big]['heap_peak'] / 2**20:.0f} MB")
        print(f"spark cpu {big / 1e6:g}M/{small / 1e6:g}M: {per_m[big] / per_m[small]:.2f}")
    first = results[sizes[0]]
    print(f"spark features/floor: {first['features_s'] / first['floor_s']:.2f}")


if __name__ == "__main__":
    main()
