"""ipyparallel side of `npm run bench`: the same workloads as bench/src, on a fresh 2-engine cluster.

Prints ONE JSON object on stdout (everything else goes to stderr), so the TypeScript harness can parse it.
Run with Debian's interpreter from outside the ipyparallel package directory:
    /usr/bin/python3 bench/python/ipp_bench.py [--quick]
"""

import json
import os
import shutil
import statistics
import sys
import tempfile
import time

# Private IPython dir before ipyparallel is imported, so no user profile or config leaks into the run.
_IPYTHONDIR = tempfile.mkdtemp(prefix="ipp-bench-")
os.environ["IPYTHONDIR"] = _IPYTHONDIR

import logging  # noqa: E402

import ipyparallel as ipp  # noqa: E402
import numpy as np  # noqa: E402

from bench_common import (  # noqa: E402
    BIG_BYTES, DATA_REPEATS, DIRECT_MAP_ITEMS, DIRECT_MAP_REPEATS, MAP_ITEMS, QUICK,
    ROUND_TRIPS, SETTLE_SECONDS, STEADY_ROUND_TRIPS, STEADY_TASKS, THROUGHPUT_REPEATS, TINY_TASKS, WARMUP_TASKS, best_seconds, child_pids,
    cpu_bound_results, median_of_runs, median_seconds, rss_bytes, wants,
)


# Here and not imported from bench_common: ipyparallel ships a function of an importable module by
# reference, and its engines cannot import bench_common (Dask's workers can, so dask_bench imports it).
def count_primes(bounds):
    lo, hi = bounds
    count = 0
    for n in range(max(lo, 2), hi):
        if n < 4:
            count += 1
            continue
        if n % 2 == 0:
            continue
        d = 3
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 2
        if prime:
            count += 1
    return count


def log(message):
    print(f"[ipp_bench] {message}", file=sys.stderr, flush=True)


def engine_rss(pids):
    """RSS of each engine process, and with its children (ipyparallel 7's per-engine nanny) added."""
    own = [rss_bytes(pid) for pid in pids]
    with_children = [rss_bytes(pid) + sum(rss_bytes(c) for c in child_pids(pid)) for pid in pids]
    return own, with_children


def main():
    results = {"version": ipp.__version__, "python": sys.version.split()[0], "quick": QUICK}

    cluster = ipp.Cluster(n=2, profile_dir=os.path.join(_IPYTHONDIR, "profile_bench"), log_level=logging.WARNING)
    start = time.perf_counter()
    rc = cluster.start_and_connect_sync()
    rc.wait_for_engines(2, timeout=120)
    results["clusterStartSeconds"] = time.perf_counter() - start
    log(f"cluster up in {results['clusterStartSeconds']:.2f} s, engines {rc.ids}")

    try:
        one = rc[rc.ids[0]]
        both = rc[:]
        lview = rc.load_balanced_view()

        pids = both.apply_sync(os.getpid)
        results["engineRssAtStartBytes"], _ = engine_rss(pids)
        # Both sides let freshly started engines settle before anything is timed.
        time.sleep(SETTLE_SECONDS)

        def nothing():
            return None

        if wants("apply"):
            results["applyRoundTripSeconds"] = median_seconds(lambda: one.apply_sync(nothing), ROUND_TRIPS)
        if wants("execute"):
            results["executeRoundTripSeconds"] = median_seconds(lambda: one.execute("a = 5; b = a * 2", block=True), ROUND_TRIPS)
        if wants("apply"):
            for _ in range(STEADY_ROUND_TRIPS):
                one.apply_sync(nothing)
            results["applySteadySeconds"] = median_seconds(lambda: one.apply_sync(nothing), ROUND_TRIPS, warmup=0)
        if wants("execute"):
            for _ in range(STEADY_ROUND_TRIPS):
                one.execute("a = 5; b = a * 2", block=True)
            results["executeSteadySeconds"] = median_seconds(lambda: one.execute("a = 5; b = a * 2", block=True), ROUND_TRIPS, warmup=0)
        log("round trips done")

        if wants("rss"):
            # Idle RSS after the engines have run an apply and an execute, before any big data lands on them.
            time.sleep(1.0)
            rss, with_children = engine_rss(pids)
            results["engineRssBytes"] = rss
            results["engineRssWithChildrenBytes"] = with_children
            results["idleEngineRssBytes"] = statistics.mean(rss)

        def identity(x):
            return x

        def square(x):
            return x * x

        def tiny_tasks(count):
            ars = [lview.apply_async(identity, i) for i in range(count)]
            for ar in ars:
                ar.get()

        if wants("tiny"):
            tiny_tasks(WARMUP_TASKS)  # warm-up: function serialisation and scheduler paths
            seconds, _ = best_seconds(lambda: tiny_tasks(TINY_TASKS), THROUGHPUT_REPEATS)
            results["tinyTasksPerSecond"] = TINY_TASKS / seconds
            for _ in range(0, STEADY_TASKS, TINY_TASKS):
                tiny_tasks(TINY_TASKS)
            seconds, _ = best_seconds(lambda: tiny_tasks(TINY_TASKS), THROUGHPUT_REPEATS)
            results["tinySteadyPerSecond"] = TINY_TASKS / seconds

        def lb_map(count):
            lview.map_async(square, list(range(count)), chunksize=1).get()

        if wants("lbmap"):
            lb_map(WARMUP_TASKS)
            seconds, _ = best_seconds(lambda: lb_map(MAP_ITEMS), THROUGHPUT_REPEATS)
            results["lbMapItemsPerSecond"] = MAP_ITEMS / seconds
        log("task throughput done")

        if wants("dmap"):
            # A real list, not a range: ipyparallel would ship a range slice as two integers.
            items = list(range(DIRECT_MAP_ITEMS))
            results["directMapSeconds"] = median_seconds(lambda: both.map_sync(square, items), DIRECT_MAP_REPEATS, warmup=1)

        if wants("push", "pull"):
            big = np.random.default_rng(1).random(BIG_BYTES // 8)
            results["pushSeconds"], results["pushSamples"] = median_of_runs(lambda: both.push({"big": big}, block=True), DATA_REPEATS)
            pulled = one.pull("big", block=True)
            if pulled.shape != big.shape or pulled[12345] != big[12345]:
                raise RuntimeError("pulled array differs from the pushed one")
            del pulled
            results["pullSeconds"], results["pullSamples"] = median_of_runs(lambda: one.pull("big", block=True), DATA_REPEATS)
            both.execute("del big", block=True)
            del big
            log("push/pull done")

        if wants("cpu"):
            results.update(cpu_bound_results(count_primes, lambda fn, items: lview.map_sync(fn, items, chunksize=1)))
            log("cpu-bound map done")
    finally:
        rc.close()
        cluster.stop_cluster_sync()
        shutil.rmtree(_IPYTHONDIR, ignore_errors=True)

    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
