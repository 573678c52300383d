"""ipyparallel's side of `npm run bench -- --scale`: one lv.map of N tiny items, chunksize 1, 2 engines.

Prints one JSON line: items, seconds, wrong, clientPeakRss, controllerPeakRss (bytes, VmHWM; the
controller's figure sums its scheduler processes).
"""
import json
import re
import sys
import tempfile
import time

import ipyparallel as ipp


def peak_rss(pid="self"):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmHWM:\s+(\d+)\s+kB", f.read(), re.M).group(1)) * 1024


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def controller_peak_rss(pid):
    """ipyparallel's controller runs its schedulers as child processes: their peaks count too."""
    total = peak_rss(pid)
    for child in children(pid):
        try:
            total += peak_rss(child)
        except OSError:
            pass
    return total


def main():
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    import os
    os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="ipp-scale-")
    cluster = ipp.Cluster(n=2, log_level=40)
    rc = cluster.start_and_connect_sync()
    try:
        rc.wait_for_engines(2, timeout=120)
        lv = rc.load_balanced_view()
        start = time.perf_counter()
        out = lv.map_sync(lambda x: x + 1, range(items), chunksize=1)
        seconds = time.perf_counter() - start
        wrong = sum(1 for i, v in enumerate(out) if v != i + 1) + abs(len(out) - items)
        controller = controller_peak_rss(cluster.controller.process.pid)
        print(json.dumps({"items": items, "seconds": seconds, "wrong": wrong, "clientPeakRss": peak_rss(), "controllerPeakRss": controller}))
    finally:
        rc.close()
        cluster.stop_cluster_sync()


if __name__ == "__main__":
    main()
