#!/usr/bin/env python3
"""Spark feature job vs a plain Spark SQL job and vs its I/O floor, on generated days of card events.

    .venv/bin/python bench/spark_bench.py [--lake DIR] [--events N[,N...]] [--per-card K[,K...]]
    BENCH_EVENTS=1000000,4000000 npm run bench:spark     # the scaling run

For each size (default 1,000,000 events; BENCH_EVENTS or --events take a comma-separated list) and
each card density (default 20 and 500 events per card, so cards = events / 20 and events / 500;
--per-card or BENCH_PER_CARD) it generates one day with scripts/generate_sample_data.py (seeded, so
always the same bytes; reused when --lake already holds it). One local[2] Spark session runs
everything: an untimed warm-up of all three measured steps on a small day (JIT compilation would
otherwise be billed to whichever step runs first), then, per size and density:

- the floor: the same bronze partitions the job reads, read with the bronze schema (Spark's JSON
  reader) and written back as parquet partitioned by dt: the least any job over this input must do;
- the feature job: run_chunk of that day (parse and checks, dedup, windows, quarantine/silver/gold
  writes, ledger commit), with its phases in wall and JVM CPU seconds;
- the plain job (bench/plain_job.py): what a data engineer would write from the old guide, the same
  reads, shuffles and writes without the bookkeeping.

Each is timed in wall seconds and in the JVM's CPU seconds (from /proc; local mode runs driver and
executors in one JVM, so this is all of Spark's work); the job's peak heap is sampled, the load
average recorded. With two or more sizes it prints JVM CPU seconds per million events at the first
density and `spark cpu <big>/<small>: X` (largest vs smallest). The last lines are
`spark features/floor: R` (wall, first size and density), then `spark job/plain: R` (first size,
20 events per card) and `spark job/plain dense: R` (first size, 500 per card): R is wall, the JVM
CPU ratio follows in brackets.
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
sys.path.insert(0, os.path.join(ROOT, "bench"))
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from generate_sample_data import write_lake  # noqa: E402

DAY = dt.date(2025, 10, 1)
PER_CARD = "20,500"
DENSE = 500
WARMUP_EVENTS = 100_000
OUTPUTS = ("silver", "gold", "quarantine", "_manifests", "_ledger", "_floor", "_plain")


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
    for out in OUTPUTS:
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


class PhaseCpu:
    """Context: JVM CPU seconds of each phase the job's clock marks (the manifest has their wall seconds)."""

    def __init__(self, jvm: Jvm, clock_class):
        self.jvm, self.clock_class, self.seconds = jvm, clock_class, {}

    def __enter__(self):
        original, jvm, seconds = self.clock_class.mark, self.jvm, self.seconds
        self.original, last = original, {"cpu": jvm.cpu()}

        def mark(clock, name: str) -> None:
            original(clock, name)
            now = jvm.cpu()
            seconds[name] = round(now - last["cpu"], 2)
            last["cpu"] = now

        self.clock_class.mark = mark
        return self

    def __exit__(self, *exc):
        self.clock_class.mark = self.original


def timed(jvm: Jvm, step) -> tuple:
    """(result, wall seconds, JVM CPU seconds) of step()."""
    t, c = time.time(), jvm.cpu()
    out = step()
    return out, time.time() - t, jvm.cpu() - c


def measure(spark, jvm: Jvm, lake: str, label: str) -> dict:
    """Time the floor, the feature job and the plain job on the day in `lake` (already generated)."""
    from card_features import job, steps, transform
    from card_features.definitions import get_definition
    from plain_job import run_plain_job

    cfg = job.parse_args(["--bucket", lake, "--start-date", DAY.isoformat(), "--end-date", DAY.isoformat(),
                          "--overwrite", "--run-id", "bench"])
    fs = job.LakeFs(spark)
    lookback = get_definition(cfg.feature_version).lookback_seconds
    wanted = [d.isoformat() for d in transform.bronze_dates_to_read(DAY, DAY, lookback, cfg.lateness_days)]
    paths = [f"{cfg.bronze_table}/dt={d}" for d in wanted if fs.has_data_files(f"{cfg.bronze_table}/dt={d}")]

    _, floor_s, floor_cpu = timed(jvm, lambda: (
        spark.read.schema(transform.BRONZE_SCHEMA).option("basePath", cfg.bronze_table).json(paths)
        .write.mode("overwrite").partitionBy("dt").parquet(f"{cfg.lake_root}/_floor")))
    with jvm.watch_heap() as heap, PhaseCpu(jvm, steps.PhaseClock) as phases:
        manifest, features_s, features_cpu = timed(
            jvm, lambda: job.run_chunk(spark, fs, cfg, DAY, DAY, job.code_revision("bench")))
    _, plain_s, plain_cpu = timed(jvm, lambda: run_plain_job(
        spark, cfg.bronze_table, paths, DAY, f"{cfg.lake_root}/_plain", cfg.lateness_days))
    return {"label": label, "paths": paths, "manifest": manifest, "floor_s": floor_s, "floor_cpu": floor_cpu,
            "features_s": features_s, "features_cpu": features_cpu, "phase_cpu": phases.seconds,
            "heap_peak": heap.peak, "plain_s": plain_s, "plain_cpu": plain_cpu, "load": os.getloadavg()}


def report(r: dict, events: int, per_card: int) -> None:
    m, mb = r["manifest"], 1024 * 1024
    load = " ".join(f"{x:.2f}" for x in r["load"])
    print(f"== {events:,} events, {per_card} per card ({r['label']}): bronze "
          f"{', '.join(p.rsplit('dt=', 1)[1] for p in r['paths'])}; rows read {m.rows_read}, gold {m.output_rows}, "
          f"quarantined {m.quarantined_rows}, duplicates removed {m.duplicates_removed}")
    print(f"feature job phases (wall s): {m.phase_seconds}")
    print(f"feature job phases (JVM CPU s): {r['phase_cpu']}")
    print(f"load average after it (1/5/15 min): {load} on {os.cpu_count()} cores")
    print(f"floor (JSON reader with the bronze schema -> parquet): {r['floor_s']:.2f}s wall, "
          f"{r['floor_cpu']:.2f}s JVM CPU")
    print(f"features (run_chunk): {r['features_s']:.2f}s wall, {r['features_cpu']:.2f}s JVM CPU, "
          f"peak heap used {r['heap_peak'] / mb:.0f} MB")
    print(f"plain job (bench/plain_job.py): {r['plain_s']:.2f}s wall, {r['plain_cpu']:.2f}s JVM CPU")
    print(f"JVM CPU per million events: features {r['features_cpu'] / (events / 1e6):.2f}s, "
          f"floor {r['floor_cpu'] / (events / 1e6):.2f}s, plain {r['plain_cpu'] / (events / 1e6):.2f}s")
    print(f"features/floor: {r['features_s'] / r['floor_s']:.2f} wall, {r['features_cpu'] / r['floor_cpu']:.2f} "
          f"JVM CPU; job/plain: {ratio(r)}", flush=True)


def ratio(r: dict) -> str:
    return f"{r['features_s'] / r['plain_s']:.2f} (JVM CPU {r['features_cpu'] / r['plain_cpu']:.2f})"


def list_from(text: str, what: str, least: int) -> list:
    values = [int(x) for x in text.split(",") if x.strip()]
    if not values or min(values) < least:
        raise SystemExit(f"{what}: {text!r} is not a comma-separated list of numbers of at least {least}")
    return values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lake", help="directory for the generated lakes (one per size and density), kept for reuse; "
                                  "default: a temporary one, removed afterwards")
    p.add_argument("--events", default=os.environ.get("BENCH_EVENTS", "1000000"),
                   help="events per day, or a comma-separated list of sizes (env BENCH_EVENTS)")
    p.add_argument("--per-card", default=os.environ.get("BENCH_PER_CARD", PER_CARD),
                   help=f"events per card, comma-separated densities (env BENCH_PER_CARD); default {PER_CARD}")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--conf", action="append", default=[], help="extra Spark setting key=value (repeatable)")
    p.add_argument("--driver-memory", default="4g", help="local mode: the one JVM runs driver and executors")
    a = p.parse_args()
    sizes, densities = list_from(a.events, "events", 1000), list_from(a.per_card, "per-card", 1)

    base = a.lake or tempfile.mkdtemp(prefix="spark-bench-")
    runs = [(n, k) for k in densities for n in sizes]
    lakes = {}
    for n, k in [(WARMUP_EVENTS, densities[0])] + runs:
        lakes[n, k] = (os.path.join(base, f"events-{n}" + ("" if k == 20 else f"-per-card-{k}")), max(1, n // k))
        ensure_lake(lakes[n, k][0], n, lakes[n, k][1])

    from card_features import job

    print(f"load average before (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    spark = job.build_spark("spark_bench", master=a.master, extra_conf={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": a.driver_memory,
        **dict(kv.split("=", 1) for kv in a.conf)})
    spark.sparkContext.setLogLevel("ERROR")
    results = {}
    try:
        jvm = Jvm(spark)
        warm = lakes[WARMUP_EVENTS, densities[0]]
        measure(spark, jvm, warm[0], "warm-up")  # untimed: JIT and file-system warm-up
        ensure_lake(warm[0], WARMUP_EVENTS, warm[1])
        for n, k in runs:
            results[n, k] = measure(spark, jvm, lakes[n, k][0], "measured")
            report(results[n, k], n, k)
            ensure_lake(lakes[n, k][0], n, lakes[n, k][1])  # drop the outputs
        print(f"JVM max heap: {jvm.max_heap / 1024 / 1024:.0f} MB (--driver-memory {a.driver_memory})")
    finally:
        spark.stop()
        if not a.lake:
            shutil.rmtree(base, ignore_errors=True)
    summarize(results, sizes, densities)


def summarize(results: dict, sizes: list, densities: list) -> None:
    k = densities[0]
    if len(sizes) > 1:
        small, big = min(sizes), max(sizes)
        per_m = {n: results[n, k]["features_cpu"] / (n / 1e6) for n in (small, big)}
        print(f"scaling: features JVM CPU per million events {per_m[small]:.2f}s at {small:,}, "
              f"{per_m[big]:.2f}s at {big:,}; peak heap {results[small, k]['heap_peak'] / 2**20:.0f} MB, "
              f"{results[big, k]['heap_peak'] / 2**20:.0f} MB")
        print(f"spark cpu {big / 1e6:g}M/{small / 1e6:g}M: {per_m[big] / per_m[small]:.2f}")
    first = results[sizes[0], k]
    print(f"spark features/floor: {first['features_s'] / first['floor_s']:.2f}")
    for density, label in ((20, "spark job/plain"), (DENSE, "spark job/plain dense")):
        if (sizes[0], density) in results:
            print(f"{label}: {ratio(results[sizes[0], density])}")


if __name__ == "__main__":
    main()
