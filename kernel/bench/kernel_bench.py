"""Figures for the TypeScript (tsparallel) kernel, measured through jupyter_client (not tests).

usage: /usr/bin/python3 kernel/bench/kernel_bench.py [--starts 5] [--cells 300] [--px 100] [--rss-cells 1000] [--starts-only] [--kernel NAME]
Needs the kernelspec installed (`npx tsparallel install`, or JUPYTER_PATH pointing at one) and, for
the %px figure, a working cluster (the kernel starts one with %tspcluster; TSPARALLEL_DIR is used).
`--kernel python3` measures IPython (Debian's python3-ipykernel) the same way, for the side-by-side
figures (start to ready, first cell, tiny cells, RSS; no %px). Prints one JSON object.
"""
import argparse
import json
import statistics
import time

from jupyter_client.manager import KernelManager


def wait_idle(kc, msg_id, timeout=120):
    deadline = time.monotonic() + timeout
    reply = None
    idle = False
    while not (reply and idle):
        if time.monotonic() > deadline:
            raise TimeoutError(msg_id)
        if reply is None:
            try:
                msg = kc.get_shell_msg(timeout=0.001)
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg
            except Exception:
                pass
        while not idle:
            try:
                io = kc.get_iopub_msg(timeout=0.001)
            except Exception:
                break
            if io["parent_header"].get("msg_id") == msg_id and io["msg_type"] == "status" and io["content"]["execution_state"] == "idle":
                idle = True
    return reply


def run(kc, code):
    start = time.perf_counter()
    reply = wait_idle(kc, kc.execute(code))
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code!r} failed: {reply['content']}")
    return (time.perf_counter() - start) * 1000


def start_kernel(name):
    km = KernelManager(kernel_name=name)
    started = time.perf_counter()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return km, kc, time.perf_counter() - started


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def summary(values):
    values = sorted(values)
    return {"median": round(statistics.median(values), 2), "p10": round(values[len(values) // 10], 2), "p90": round(values[len(values) * 9 // 10], 2), "n": len(values)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--px", type=int, default=100)
    parser.add_argument("--rss-cells", type=int, default=1000)
    parser.add_argument("--starts-only", action="store_true", help="only the start figures (ready, first cell)")
    parser.add_argument("--kernel", default="tsparallel", help="kernelspec to measure (python3: IPython, for comparison)")
    args = parser.parse_args()
    result = {"kernel": args.kernel}

    ready, first_cell = [], []
    for _ in range(args.starts):
        km, kc, seconds = start_kernel(args.kernel)
        ready.append(seconds)
        first_cell.append(run(kc, "1 + 1") / 1000)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    result["start_to_ready_s"] = summary(ready)
    result["first_cell_after_ready_s"] = summary(first_cell)
    if args.starts_only:
        print(json.dumps(result, indent=2))
        return

    km, kc, _ = start_kernel(args.kernel)
    try:
        run(kc, "1 + 1")
        result["local_tiny_cell_ms"] = summary([run(kc, f"{i} + 1") for i in range(args.cells)])
        done = args.cells + 1
        while done < args.rss_cells:
            run(kc, f"{done} + 1")
            done += 1
        pid = km.provisioner.process.pid
        result["rss_after_cells_mb"] = {"cells": done, "rss": round(rss_mb(pid), 1)}
        if args.kernel == "tsparallel":
            try:
                run(kc, "%tspcluster start -n 2 --profile kernelbench")
                run(kc, "%px 1")
                result["px_tiny_cell_2_engines_ms"] = summary([run(kc, f"%px {i} + 1") for i in range(args.px)])
            finally:
                try:
                    run(kc, "%tspcluster stop --profile kernelbench")
                except Exception as err:  # the figure above is still worth printing
                    result["px_cluster_stop_error"] = str(err)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
