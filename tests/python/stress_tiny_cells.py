"""10,000 tiny cells through jupyter_client: every reply and every idle status must arrive.

usage: stress_tiny_cells.py [N] [WINDOW]
Requests are pipelined (up to WINDOW outstanding), so the kernel's queue and its IOPub socket are
kept busy. Prints one JSON line with the counts; exits 1 if anything is missing or wrong.
"""
import json
import sys
import time
from queue import Empty

from jupyter_client.manager import start_new_kernel


def main(n=10_000, window=64):
    km, kc = start_new_kernel(kernel_name="tsparallel", startup_timeout=120)
    try:
        pending = {}  # msg_id -> i
        replies = idles = results = wrong = 0
        seen_idle = set()
        seen_reply = set()
        sent = 0
        started = time.perf_counter()
        deadline = time.monotonic() + 3600
        while (sent < n or pending) and time.monotonic() < deadline:
            while sent < n and len(pending) < window:
                msg_id = kc.execute(f"{sent} + 1", store_history=True)
                pending[msg_id] = sent
                sent += 1
            try:
                msg = kc.get_shell_msg(timeout=0.01)
            except Empty:
                msg = None
            if msg and msg["parent_header"].get("msg_id") in pending and msg["msg_type"] == "execute_reply":
                replies += 1
                seen_reply.add(msg["parent_header"]["msg_id"])
                if msg["content"]["status"] != "ok":
                    wrong += 1
            while True:
                try:
                    io = kc.get_iopub_msg(timeout=0)
                except Empty:
                    break
                parent = io["parent_header"].get("msg_id")
                if parent not in pending:
                    continue
                if io["msg_type"] == "execute_result":
                    results += 1
                    if io["content"]["data"].get("text/plain") != str(pending[parent] + 1):
                        wrong += 1
                elif io["msg_type"] == "status" and io["content"]["execution_state"] == "idle":
                    idles += 1
                    seen_idle.add(parent)
            # A request is done when both its reply and its idle status are in.
            for msg_id in [m for m in seen_idle if m in seen_reply]:
                pending.pop(msg_id)
                seen_idle.discard(msg_id)
                seen_reply.discard(msg_id)
        elapsed = time.perf_counter() - started
        report = {"cells": n, "replies": replies, "idle": idles, "results": results, "wrong": wrong, "seconds": round(elapsed, 1)}
        print(json.dumps(report))
        return 0 if replies == n and idles == n and results == n and wrong == 0 else 1
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:])))
