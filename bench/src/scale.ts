/**
 * `npm run bench -- --scale`: one lv.map of 1,000,000 tiny items with chunkSize 1 on 2 engines (time,
 * every value checked, each item run once, peak RSS of client and controller), beside ipyparallel on
 * 100,000 (1M takes it too long). `--soak`: 64 engines on this host, time until all registered, then
 * CPU-bound load for two minutes; counts false deaths and the longest heartbeat gap the controller saw.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, type Client } from "tsparallel";
import type { LoopHold } from "@tsparallel/protocol";
import { PYTHON } from "./theirs.js";
import { TINY_TASK_TARGET } from "./table.js";

declare const globalThis: { runs?: number };

/** Peak resident set size of a process (VmHWM), bytes. */
export function peakRssBytes(pid: number | "self"): number {
  const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmHWM for ${pid}`);
  return Number(match[1]) * 1024;
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

async function privateCluster<T>(n: number, timeout: number, work: (cluster: Cluster, client: Client) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "tsp-scale-"));
  process.env.TSPARALLEL_DIR = dir;
  // The controller names its slowest handler by its loop thread's own CPU, not the writer thread's and ZeroMQ's beside it.
  process.env.TSPARALLEL_LOOP_CPU = "thread";
  const cluster = await Cluster.start({ n, profile: "scale", timeout });
  try {
    const client = await cluster.connect();
    await client.waitForEngines(n, { timeout });
    try {
      return await work(cluster, client);
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface MapFigures {
  items: number;
  seconds: number;
  wrong: number;
  runs: number;
  clientPeakRss: number;
  controllerPeakRss: number;
  /** The longest the controller's event loop could not turn (wall ms, since it started: the map is nearly all of that). */
  longestHoldMs?: number;
  /** The controller's handler that used the most CPU in one go: what it handled, wall and CPU ms, GC pauses within it. */
  slowest?: { what: string; ms: number; cpuMs: number; gcMs?: number };
  /** Whose CPU judged the slowest: the loop thread's own, or (a controller without it) the whole process's. */
  slowestCpu?: "process" | "thread";
  /** The controller's longest GC pause. */
  longestGcMs?: number;
  /** What filled the longest hold (the loop thread's CPU, GC, timed handlers): see ClusterSnapshot's loop.hold. */
  hold?: LoopHold;
  /** The hold longest once the controller's wait for a core is taken off: its own work and GC. */
  ownHold?: LoopHold;
  /** CPU seconds the controller process used during the map (all its threads). */
  controllerCpuSeconds?: number;
  /** Times the controller stopped reading new work because the store's writer was too far behind. */
  storePauses?: number;
}

/** A process's CPU time so far (user + system, all threads), seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function bigMap(items: number, log: (m: string) => void): Promise<MapFigures> {
  return privateCluster(2, 60_000, async (cluster, client) => {
    const input = Array.from({ length: items }, (_, i) => i);
    log(`mapping ${items.toLocaleString("en-US")} items, chunkSize 1, 2 engines`);
    const started = performance.now();
    const cpuBefore = cpuSeconds(cluster.controller.pid);
    const out = await client.loadBalancedView().map(
      (x: number) => {
        globalThis.runs = (globalThis.runs ?? 0) + 1;
        return x + 1;
      },
      input,
      { chunkSize: 1 },
    );
    const seconds = (performance.now() - started) / 1000;
    const controllerCpuSeconds = cpuSeconds(cluster.controller.pid) - cpuBefore;
    let wrong = out.length === items ? 0 : Math.abs(out.length - items);
    for (let i = 0; i < out.length; i++) if (out[i] !== i + 1) wrong++;
    const runs = (await client.directView().apply(() => globalThis.runs ?? 0)).reduce((a, b) => a + b, 0);
    const status = await client.status();
    const loop = status.controller.loop;
    const storePauses = status.store?.behind?.pauses;
    return {
      items, seconds, wrong, runs, controllerCpuSeconds, ...(storePauses !== undefined ? { storePauses } : {}), clientPeakRss: peakRssBytes("self"), controllerPeakRss: peakRssBytes(cluster.controller.pid),
      ...(loop ? { longestHoldMs: loop.longestHoldMs, ...(loop.longestGcMs !== undefined ? { longestGcMs: loop.longestGcMs } : {}), ...(loop.slowest ? { slowest: loop.slowest, slowestCpu: loop.cpu ?? "process" } : {}), ...(loop.hold ? { hold: loop.hold } : {}), ...(loop.ownHold ? { ownHold: loop.ownHold } : {}) } : {}),
    };
  });
}

/** ipyparallel's side: bench/python/ipp_scale.py prints {items, seconds, wrong, clientPeakRss, controllerPeakRss}. */
export function theirBigMap(items: number, log: (m: string) => void): Partial<MapFigures> | undefined {
  const script = join(dirname(fileURLToPath(import.meta.url)), "..", "python", "ipp_scale.py");
  log(`ipyparallel: mapping ${items.toLocaleString("en-US")} items, chunksize 1, 2 engines`);
  const run = spawnSync(PYTHON, [script, String(items)], { cwd: tmpdir(), encoding: "utf8", env: { ...process.env, PYTHONWARNINGS: "ignore" }, timeout: 1_800_000 });
  if (run.status !== 0) {
    log(`ipyparallel run failed: ${run.error?.message ?? run.stderr.trim().split("\n").slice(-3).join(" | ")}`);
    return undefined;
  }
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Partial<MapFigures>;
}

export interface SoakFigures {
  engines: number;
  secondsToAllRegistered: number;
  loadSeconds: number;
  tasks: number;
  deaths: number;
  /** The longest time any engine went without a beat, as the controller's snapshots showed it. */
  longestBeatGapSeconds: number;
  /** The longest an engine took from registering to its first beat, as far as the snapshots saw. */
  longestToFirstBeatSeconds: number;
}

export async function soak(engines: number, loadSeconds: number, log: (m: string) => void): Promise<SoakFigures> {
  const started = performance.now();
  return privateCluster(engines, 600_000, async (_cluster, client) => {
    const secondsToAllRegistered = (performance.now() - started) / 1000;
    log(`${engines} engines registered in ${secondsToAllRegistered.toFixed(1)} s; CPU-bound load for ${loadSeconds} s`);
    let deaths = 0;
    client.events.on("engine_dead", (e) => {
      deaths++;
      log(`engine ${e.id} declared dead: ${e.reason}`);
    });
    // An engine whose lastHeartbeat is still its registration time has not beaten yet: that wait
    // (its heartbeat thread starting) is judged by the first-beat grace, so it is counted apart.
    const registered = new Map(client.engines.map((e) => [e.id, e.registered]));
    let longestGap = 0;
    let longestToFirstBeat = 0;
    client.events.on("cluster_snapshot", (s) => {
      for (const e of s.engines) {
        if (e.state === "dead" || e.state === "stopped") continue;
        const since = registered.get(e.id);
        if (since !== undefined && e.lastHeartbeat <= since) longestToFirstBeat = Math.max(longestToFirstBeat, s.time - since);
        else longestGap = Math.max(longestGap, s.time - e.lastHeartbeat);
      }
    });
    const spin = (ms: number) => {
      const until = Date.now() + ms;
      let k = 0;
      while (Date.now() < until) k++;
      return k;
    };
    const lv = client.loadBalancedView();
    const until = performance.now() + loadSeconds * 1000;
    let tasks = 0;
    while (performance.now() < until) {
      // Each round gives every engine two 250 ms spins: all 64 runnable at once on 2 cores.
      await lv.map(spin, Array.from({ length: engines * 2 }, () => 250));
      tasks += engines * 2;
    }
    const snapshot = await client.status();
    deaths = Math.max(deaths, snapshot.engines.filter((e) => e.state === "dead").length);
    return { engines, secondsToAllRegistered, loadSeconds, tasks, deaths, longestBeatGapSeconds: longestGap / 1000, longestToFirstBeatSeconds: longestToFirstBeat / 1000 };
  });
}

export async function runScaleBench(options: { map: boolean; soak: boolean; quick: boolean; oursOnly: boolean; log: (side: string) => (m: string) => void }): Promise<number> {
  let failed = false;
  if (options.map) {
    const ours = await bigMap(options.quick ? 200_000 : 1_000_000, options.log("scale"));
    failed ||= ours.wrong > 0 || ours.runs !== ours.items;
    const theirs = options.oursOnly ? undefined : theirBigMap(options.quick ? 20_000 : 100_000, options.log("scale"));
    console.log("\nlv.map, chunkSize 1, 2 engines          items       time    items/s   client peak RSS   controller peak RSS   longest loop hold   wrong   runs");
    const row = (name: string, f: Partial<MapFigures>) =>
      console.log(
        `${name.padEnd(38)} ${String(f.items?.toLocaleString("en-US")).padStart(9)} ${`${f.seconds?.toFixed(1)} s`.padStart(10)} ${String(Math.round((f.items ?? 0) / (f.seconds ?? 1))).padStart(10)} ` +
          `${mib(f.clientPeakRss ?? 0).padStart(17)} ${mib(f.controllerPeakRss ?? 0).padStart(21)} ${(f.longestHoldMs === undefined ? "-" : `${Math.round(f.longestHoldMs)} ms`).padStart(19)} ` +
          `${String(f.wrong ?? "-").padStart(7)} ${String(f.runs ?? "-").padStart(6)}`,
      );
    row("tsparallel", ours);
    if (theirs) {
      row("ipyparallel", theirs);
      const ratio = theirs.items && theirs.seconds ? ours.items / ours.seconds / (theirs.items / theirs.seconds) : undefined;
      if (ratio !== undefined) console.log(`items/s, ours over ipyparallel's: ${ratio.toFixed(1)}x (target >= ${TINY_TASK_TARGET}x: ${ratio >= TINY_TASK_TARGET ? "met" : "not met"})`);
    }
    if (ours.slowest) {
      console.log(
        `controller: the handler that used the most CPU in one go was ${ours.slowest.what}: ${ours.slowest.cpuMs} ms CPU of ${ours.slowestCpu === "thread" ? "its loop thread" : "the process"} (${ours.slowest.ms} ms wall` +
          `${ours.slowest.gcMs ? `, ${ours.slowest.gcMs} ms of it GC pauses` : ""}); longest GC pause ${ours.longestGcMs ?? "-"} ms; ` +
          `target ~50 ms. The longest loop hold is wall time (GC and a busy machine's scheduling count too); load average now ${loadavg()[0]!.toFixed(1)}.`,
      );
    }
    const describe = (name: string, h: LoopHold) => {
      const spans = h.spans.map((s) => `${s.what} x${s.count} ${s.ms} ms (${s.cpuMs} CPU)`).join(", ");
      console.log(
        `controller: ${name} (${h.ms} ms late): the loop thread used ${h.cpuMs} ms CPU, waited ${h.waitMs ?? "-"} ms for a core and was blocked ~${Math.max(0, Math.round(h.ms + 10 - h.cpuMs - (h.waitMs ?? 0)))} ms${h.gcMs ? `, GC pauses ${h.gcMs} ms (longest ${h.gcKind})` : ""}; ` +
          `timed handlers: ${spans || "none"}; untimed ${h.untimedMs} ms.`,
      );
    };
    if (ours.hold) describe("the longest hold", ours.hold);
    if (ours.ownHold) describe(`the longest hold less its wait for a core (${Math.round(ours.ownHold.ms - (ours.ownHold.waitMs ?? 0))} ms)`, ours.ownHold);
    if (ours.controllerCpuSeconds !== undefined) console.log(`controller: ${ours.controllerCpuSeconds.toFixed(1)} s of CPU (all threads) during the map, ${Math.round((ours.controllerCpuSeconds * 1e6) / ours.items)} us per item; reading paused for the store's writer ${ours.storePauses ?? "-"} times.`);
  }
  if (options.soak) {
    const s = await soak(64, options.quick ? 30 : 120, options.log("soak"));
    failed ||= s.deaths > 0;
    console.log(
      `\nsoak: ${s.engines} engines registered in ${s.secondsToAllRegistered.toFixed(1)} s; ${s.loadSeconds} s of CPU-bound load (${s.tasks} tasks of 250 ms): ` +
        `${s.deaths} engine deaths, longest heartbeat gap seen by the controller ${s.longestBeatGapSeconds.toFixed(1)} s ` +
        `(snapshot age included), longest wait for a first beat after registering ${s.longestToFirstBeatSeconds.toFixed(1)} s`,
    );
  }
  return failed ? 1 : 0;
}
