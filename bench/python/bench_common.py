"""Helpers shared by the Python peers of `npm run bench` (ipp_bench.py, dask_bench.py): timing, the
prime-counting work, and RSS from /proc. Same definitions as bench/src on the TypeScript side."""

import os
import statistics
import sys
import time

QUICK = "--quick" in sys.argv
# `npm run bench -- --only dmap,...` passes its workload names on as --only=...: the others are skipped.
ONLY = next((set(a.split("=", 1)[1].split(",")) for a in sys.argv if a.startswith("--only=")), None)


def wants(*workloads):
    """Whether any of these workloads (named as bench/src/ours.ts names them) is to be measured."""
    return ONLY is None or any(w in ONLY for w in workloads)


ROUND_TRIPS = 50 if QUICK else 300
TINY_TASKS = 1000 if QUICK else 5000
MAP_ITEMS = 1000 if QUICK else 5000
DIRECT_MAP_ITEMS = 200_000
DIRECT_MAP_REPEATS = 3 if QUICK else 9
BIG_BYTES = 100 * 1024 * 1024
PRIME_CHUNKS = 16
# Sized so that the serial run takes a few seconds, as on our side: the speed-up, not the absolute
# time, is what is compared, and Python's trial division is far slower than V8's.
PRIME_LIMIT = int(os.environ.get("IPP_BENCH_PRIME_LIMIT", 800_000 if QUICK else 1_600_000))
DATA_REPEATS = 2 if QUICK else 3
SETTLE_SECONDS = 2.0
THROUGHPUT_REPEATS = 1 if QUICK else 2
WARMUP_TASKS = 200 if QUICK else 500
# Run before the warm medians and rate, as on our side (bench/src/figures.ts: steadyRoundTrips, steadyTasks).
STEADY_ROUND_TRIPS = 500 if QUICK else 3000
STEADY_TASKS = 4000 if QUICK else 20_000


def median_seconds(action, repeats, warmup=5):
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def timed_samples(action, repeats):
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def best_seconds(action, repeats):
    """Best of a few: only for task throughput, where each run of ipyparallel takes ~10 s."""
    samples = timed_samples(action, repeats)
    return min(samples), samples


def median_of_runs(action, repeats):
    """Median of a few whole runs (no warm-up): for the big data transfers."""
    samples = timed_samples(action, repeats)
    return statistics.median(samples), samples


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


def prime_chunks(limit, chunks):
    step = -(-limit // chunks)
    return [(i * step, min(limit, (i + 1) * step)) for i in range(chunks)]


def cpu_bound_results(count, parallel_map):
    """
    The CPU-bound workload, the same for every peer: primes counted serially here, then by the peer's
    map over the same chunks (a small map first ships the function). `count` is the peer's own
    count_primes, since ipyparallel's engines cannot import this module.
    """
    chunks = prime_chunks(PRIME_LIMIT, PRIME_CHUNKS)
    start = time.perf_counter()
    serial = [count(c) for c in chunks]
    serial_seconds = time.perf_counter() - start
    parallel_map(count, prime_chunks(1000, 2))
    start = time.perf_counter()
    parallel = parallel_map(count, chunks)
    parallel_seconds = time.perf_counter() - start
    if list(parallel) != serial:
        raise RuntimeError("parallel prime counts differ from the serial ones")
    primes = {
        "limit": PRIME_LIMIT,
        "chunks": PRIME_CHUNKS,
        "count": sum(serial),
        "serialSeconds": serial_seconds,
        "parallelSeconds": parallel_seconds,
    }
    return {"primes": primes, "cpuSpeedup": serial_seconds / parallel_seconds}


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def child_pids(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(c) for c in children.read().split()]
    except OSError:
        return []


def parent_pid(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


class Opaque:
    """A list Dask pickles as one object: a bare list is serialized item by item (~10 s for 100k ints)."""

    def __init__(self, items):
        self.items = items


def square_opaque(chunk):
    return Opaque([x * x for x in chunk.items])
