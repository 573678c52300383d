import { spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TheirFigures } from "./figures.js";

/**
 * Debian's interpreter by default: the `python3` on PATH may be a pyenv without Debian's
 * python3-ipyparallel. TSP_BENCH_PYTHON points elsewhere (a virtualenv with ipyparallel, say).
 */
export const PYTHON = process.env.TSP_BENCH_PYTHON || "/usr/bin/python3";
const PYTHON_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "python");

/** A Python peer: its script, the module its probe imports, and its log tag. */
export interface Peer {
  name: string;
  script: string;
  module: string;
  tag: string;
}

export const IPYPARALLEL: Peer = { name: "ipyparallel", script: join(PYTHON_DIR, "ipp_bench.py"), module: "ipyparallel", tag: "[ipp_bench]" };
export const DASK: Peer = { name: "Dask", script: join(PYTHON_DIR, "dask_bench.py"), module: "distributed", tag: "[dask_bench]" };

export const DASK_INSTALL_HINT =
  `Dask distributed is not importable by ${PYTHON}, so its column is empty; install Debian's package (sudo apt-get install python3-distributed)`;

export const INSTALL_HINT =
  `ipyparallel is not importable by ${PYTHON}, so only our figures are shown; to compare, install Debian's package ` +
  "(sudo apt-get install python3-ipyparallel python3-numpy) or set TSP_BENCH_PYTHON to a python that has ipyparallel and numpy";

export type Availability = { available: true; version: string } | { available: false; reason: string };

/** Whether Debian's python can import the peer (and numpy, for the push/pull workloads). */
export function peerAvailability(peer: Peer = IPYPARALLEL): Availability {
  // Run from a neutral directory: inside the ipyparallel package dir, `import ipyparallel` breaks.
  const probe = spawnSync(PYTHON, ["-c", `import numpy, ${peer.module}; print(${peer.module}.__version__)`], { cwd: tmpdir(), encoding: "utf8" });
  if (probe.error) return { available: false, reason: `${PYTHON} cannot run (${probe.error.message})` };
  if (probe.status !== 0) return { available: false, reason: probe.stderr.trim().split("\n").pop() ?? `exit code ${probe.status}` };
  return { available: true, version: probe.stdout.trim() };
}

/**
 * Runs a peer's script (bench/python/ipp_bench.py or dask_bench.py): it starts its own 2-engine
 * (2-worker) cluster in private directories, runs the same workloads and prints one JSON object on
 * stdout. Its progress (stderr) is passed to `log` line by line.
 */
export const ipyparallelAvailability = (): Availability => peerAvailability(IPYPARALLEL);

export function runTheirs(options: { quick: boolean; primeLimit: number; log: (line: string) => void; peer?: Peer; only?: readonly string[] | undefined }): Promise<TheirFigures> {
  const peer = options.peer ?? IPYPARALLEL;
  const args = [peer.script, ...(options.quick ? ["--quick"] : []), ...(options.only ? [`--only=${options.only.join(",")}`] : [])];
  const child = spawn(PYTHON, args, {
    cwd: tmpdir(),
    env: { ...process.env, IPP_BENCH_PRIME_LIMIT: String(options.primeLimit), PYTHONWARNINGS: "ignore" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderrTail: string[] = [];
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith(peer.tag)) options.log(line.slice(peer.tag.length + 1));
      stderrTail = [...stderrTail, line].slice(-20);
    }
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code !== 0) {
        reject(new Error(`${PYTHON} ${args.join(" ")} failed (${signal ?? `exit code ${code}`}):\n${[...stderrTail, partial].join("\n")}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split("\n").pop()!) as TheirFigures);
      } catch (err) {
        reject(new Error(`${peer.script} printed no JSON result (${(err as Error).message}):\n${stdout.slice(-2000)}`));
      }
    });
  });
}
