"""Dask distributed side of `npm run bench`: the same workloads as bench/src and ipp_bench.py, on a fresh
2-worker LocalCluster (one process and one thread per worker, each under its nanny, Dask's default).

What each workload is in Dask's terms:
- apply round trip: `client.submit(nothing, pure=False, workers=[w0]).result()`
- execute round trip: Dask has no code cells; `client.run(exec of the same code, workers=[w0])`, which
  runs on the worker outside the task graph (its nearest "run this code there")
- tiny tasks / lb map: `client.submit(identity, i)` for each i / `client.map(square, items)`, all gathered
- DirectView map: the 200k-item list split in 2 chunks, one task per worker, results concatenated; each
  chunk travels wrapped in one object (a bare list costs Dask ~10 s per 100k items)
- push / pull: `client.scatter(big, broadcast=True)` / `future.result()` of the array held on one worker

Prints ONE JSON object on stdout (everything else goes to stderr). Run with Debian's interpreter:
    /usr/bin/python3 bench/python/dask_bench.py [--quick]
"""

import json
import logging
import os
import statistics
import sys
import time
import warnings

import bench_common as b

warnings.simplefilter("ignore")
import dask  # noqa: E402
import numpy as np  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402


def log(message):
    print(f"[dask_bench] {message}", file=sys.stderr, flush=True)


def nothing():
    return None


def identity(x):
    return x


def square(x):
    return x * x


def make_big(n):
    return np.random.default_rng(1).random(n)


def main():
    import distributed

    results = {"version": distributed.__version__, "python": sys.version.split()[0], "quick": b.QUICK}
    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    client.wait_for_workers(2)
    results["clusterStartSeconds"] = time.perf_counter() - start
    workers = sorted(client.scheduler_info()["workers"])
    w0 = workers[0]
    log(f"cluster up in {results['clusterStartSeconds']:.2f} s, workers {workers}")
    try:
        pids = [client.run(os.getpid, workers=[w])[w] for w in workers]
        # The nanny is each worker's parent: counted as ipyparallel's per-engine nanny is (with children).
        nannies = [b.parent_pid(pid) for pid in pids]
        results["engineRssAtStartBytes"] = [b.rss_bytes(p) for p in pids]
        time.sleep(b.SETTLE_SECONDS)

        if b.wants("apply"):
            results["applyRoundTripSeconds"] = b.median_seconds(lambda: client.submit(nothing, pure=False, workers=[w0]).result(), b.ROUND_TRIPS)
        code = "a = 5; b = a * 2"
        if b.wants("execute"):
            results["executeRoundTripSeconds"] = b.median_seconds(lambda: client.run(exec, code, {}, workers=[w0]), b.ROUND_TRIPS)
        if b.wants("apply"):
            for _ in range(b.STEADY_ROUND_TRIPS):
                client.submit(nothing, pure=False, workers=[w0]).result()
            results["applySteadySeconds"] = b.median_seconds(lambda: client.submit(nothing, pure=False, workers=[w0]).result(), b.ROUND_TRIPS, warmup=0)
        if b.wants("execute"):
            for _ in range(b.STEADY_ROUND_TRIPS):
                client.run(exec, code, {}, workers=[w0])
            results["executeSteadySeconds"] = b.median_seconds(lambda: client.run(exec, code, {}, workers=[w0]), b.ROUND_TRIPS, warmup=0)
        log("round trips done")

        if b.wants("rss"):
            time.sleep(1.0)
            rss = [b.rss_bytes(p) for p in pids]
            results["engineRssBytes"] = rss
            results["engineRssWithChildrenBytes"] = [r + b.rss_bytes(n) for r, n in zip(rss, nannies)]
            results["idleEngineRssBytes"] = statistics.mean(rss)

        def tiny_tasks(count):
            client.gather([client.submit(identity, i, pure=False) for i in range(count)])

        if b.wants("tiny"):
            tiny_tasks(b.WARMUP_TASKS)
            seconds, _ = b.best_seconds(lambda: tiny_tasks(b.TINY_TASKS), b.THROUGHPUT_REPEATS)
            results["tinyTasksPerSecond"] = b.TINY_TASKS / seconds
            for _ in range(0, b.STEADY_TASKS, b.TINY_TASKS):
                tiny_tasks(b.TINY_TASKS)
            seconds, _ = b.best_seconds(lambda: tiny_tasks(b.TINY_TASKS), b.THROUGHPUT_REPEATS)
            results["tinySteadyPerSecond"] = b.TINY_TASKS / seconds

        def lb_map(count):
            client.gather(client.map(square, list(range(count)), pure=False))

        if b.wants("lbmap"):
            lb_map(b.WARMUP_TASKS)
            seconds, _ = b.best_seconds(lambda: lb_map(b.MAP_ITEMS), b.THROUGHPUT_REPEATS)
            results["lbMapItemsPerSecond"] = b.MAP_ITEMS / seconds
        log("task throughput done")

        if b.wants("dmap"):
            items = list(range(b.DIRECT_MAP_ITEMS))
            half = len(items) // 2

            def direct_map():
                # Each chunk wrapped so Dask pickles it whole: a bare 100k-item list is serialized item by
                # item both ways (~10 s a chunk here, in submit, scatter and dask.bag alike).
                chunks = [b.Opaque(items[:half]), b.Opaque(items[half:])]
                parts = [client.submit(b.square_opaque, chunk, pure=False, workers=[w]) for chunk, w in zip(chunks, workers)]
                out = []
                for part in client.gather(parts):
                    out.extend(part.items)
                return out

            mapped = direct_map()
            if len(mapped) != len(items) or mapped[1234] != 1234 * 1234:
                raise RuntimeError("the direct map returned wrong results")
            results["directMapSeconds"] = b.median_seconds(direct_map, b.DIRECT_MAP_REPEATS, warmup=1)

        if b.wants("push", "pull"):
            big = np.random.default_rng(1).random(b.BIG_BYTES // 8)

            def push():
                return client.scatter(big, broadcast=True, hash=False)

            pushed = []
            results["pushSeconds"], results["pushSamples"] = b.median_of_runs(lambda: pushed.append(push()), b.DATA_REPEATS)
            held = client.submit(make_big, b.BIG_BYTES // 8, pure=False, workers=[w0])
            pulled = held.result()
            if pulled.shape != big.shape or pulled[12345] != big[12345]:
                raise RuntimeError("the pulled array differs from the pushed one")
            del pulled
            results["pullSeconds"], results["pullSamples"] = b.median_of_runs(lambda: held.result(), b.DATA_REPEATS)
            del held, pushed, big
            log("push/pull done")

        if b.wants("cpu"):
            results.update(b.cpu_bound_results(b.count_primes, lambda fn, items: client.gather(client.map(fn, items, pure=False))))
            log("cpu-bound map done")
    finally:
        client.close()
        cluster.close()

    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    dask.config.set({"distributed.worker.daemon": True})
    main()
