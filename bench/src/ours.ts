import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, Cluster, type DirectView, type LoadBalancedView } from "tsparallel";
import { CpuAccounting } from "./cpu-accounting.js";
import type { OurFigures, PrimeRun, RoundTripBreakdown, Sizes } from "./figures.js";
import { countPrimes, primeChunks } from "./primes.js";
import { rssBytes, rssWithChildren } from "./proc.js";
import { bestSeconds, median, medianOfRuns, medianSeconds, seconds } from "./timing.js";

/** The workloads, by the name `--only` selects them with. Cluster start is always measured. */
export const WORKLOADS = ["apply", "execute", "rss", "tiny", "lbmap", "dmap", "push", "pull", "cpu", "curve"] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface OurRunOptions {
  sizes: Sizes;
  /** ipyparallel's prime limit, run on our side too as an extra (overhead-dominated) figure. */
  theirPrimeLimit: number;
  only: ReadonlySet<Workload>;
  /** Extra tspcontroller / tspengine arguments, to try settings (e.g. ["--hwm", "0"]). */
  controllerArgs: string[];
  engineArgs: string[];
  log: (message: string) => void;
}

interface Session {
  rc: Client;
  one: DirectView<true>;
  all: DirectView<false>;
  lv: LoadBalancedView;
  pids: number[];
  cpu: CpuAccounting;
}

/** Same pause as ipp_bench.py's SETTLE_SECONDS. */
const SETTLE_MS = 2000;

// Defined once, as a user would: each distinct function object is described (source, hash) once per client.
const nothing = (): null => null;
const identity = (x: number): number => x;
const square = (x: number): number => x * x;

function tsparallelVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("tsparallel/package.json") as { version: string }).version;
}

async function enginePids(rc: Client, cluster: Cluster): Promise<number[]> {
  const snapshot = await rc.status();
  const pids = snapshot.engines.filter((e) => e.state !== "dead" && e.state !== "stopped").map((e) => e.pid);
  return pids.length ? pids : cluster.engines.map((e) => e.pid);
}

async function roundTrips(s: Session, figures: Partial<OurFigures>, opts: OurRunOptions): Promise<void> {
  const n = opts.sizes.roundTrips;
  if (opts.only.has("apply")) {
    figures.applyRoundTripSeconds = await s.cpu.measure("apply", n + 5, "round trip", () => medianSeconds(() => s.one.apply(nothing), n));
    figures.applyBreakdown = await applyBreakdown(s, Math.min(n, 200));
  }
  const code = "const a = 5; let b = a * 2";
  if (opts.only.has("execute")) {
    figures.executeRoundTripSeconds = await s.cpu.measure("execute", n + 5, "round trip", () => medianSeconds(() => s.one.execute(code), n));
  }
  // The same medians once the path is warm (the peers run the same number first): a fresh cluster's
  // first few thousand messages run in V8's unoptimized tiers.
  const { steadyRoundTrips } = opts.sizes;
  if (opts.only.has("apply")) {
    for (let i = 0; i < steadyRoundTrips; i++) await s.one.apply(nothing);
    figures.applySteadySeconds = await s.cpu.measure("apply-w", n, "round trip", () => medianSeconds(() => s.one.apply(nothing), n, 0));
  }
  if (opts.only.has("execute")) {
    for (let i = 0; i < steadyRoundTrips; i++) await s.one.execute(code);
    figures.executeSteadySeconds = await s.cpu.measure("execute-w", n, "round trip", () => medianSeconds(() => s.one.execute(code), n, 0));
  }
}

/** Where one apply round trip spends its time: the engine stamps start and completion (same host, same clock). */
async function applyBreakdown(s: Session, n: number): Promise<RoundTripBreakdown> {
  const now = () => performance.timeOrigin + performance.now();
  const out: number[] = [];
  const engine: number[] = [];
  const back: number[] = [];
  for (let i = 0; i < n; i++) {
    const sent = now();
    const ar = s.one.apply(nothing);
    await ar;
    const received = now();
    const { started, completed } = ar.metadata[0]!;
    if (started === undefined || completed === undefined) continue;
    out.push((started - sent) / 1000);
    engine.push((completed - started) / 1000);
    back.push((received - completed) / 1000);
  }
  return { outSeconds: median(out), engineSeconds: median(engine), backSeconds: median(back) };
}

async function idleRss(s: Session, figures: Partial<OurFigures>): Promise<void> {
  // Same moment as the python side: after the round trips, before any big data, after a second's rest.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  figures.engineRssBytes = s.pids.map(rssBytes);
  figures.engineRssWithChildrenBytes = s.pids.map(rssWithChildren);
  figures.idleEngineRssBytes = figures.engineRssBytes.reduce((a, b) => a + b, 0) / s.pids.length;
}

async function throughput(s: Session, figures: Partial<OurFigures>, opts: OurRunOptions): Promise<void> {
  const { tinyTasks, mapItems, warmupTasks, throughputRepeats } = opts.sizes;
  const applyAll = (count: number) => Promise.all(Array.from({ length: count }, (_, i) => s.lv.apply(identity, i)));
  if (opts.only.has("tiny")) {
    await applyAll(warmupTasks);
    figures.tinyTasksPerSecond = tinyTasks / (await s.cpu.measure("tiny", tinyTasks * throughputRepeats, "task", () => bestSeconds(() => applyAll(tinyTasks), throughputRepeats)));
    for (let done = 0; done < opts.sizes.steadyTasks; done += tinyTasks) await applyAll(tinyTasks);
    figures.tinySteadyPerSecond = tinyTasks / (await s.cpu.measure("tiny-w", tinyTasks * throughputRepeats, "task", () => bestSeconds(() => applyAll(tinyTasks), throughputRepeats)));
  }
  if (opts.only.has("lbmap")) {
    const map = (count: number) => s.lv.map(square, Array.from({ length: count }, (_, i) => i), { chunkSize: 1 });
    await map(warmupTasks);
    figures.lbMapItemsPerSecond = mapItems / (await s.cpu.measure("lbmap", mapItems * throughputRepeats, "task", () => bestSeconds(() => map(mapItems), throughputRepeats)));
  }
}

async function directMap(s: Session, figures: Partial<OurFigures>, opts: OurRunOptions): Promise<void> {
  const items = Array.from({ length: opts.sizes.directMapItems }, (_, i) => i);
  const result = await s.all.map(square, items);
  if (result.length !== items.length || result[1234] !== 1234 * 1234) throw new Error("DirectView map returned wrong results");
  figures.directMapSeconds = await s.cpu.measure("dmap", opts.sizes.directMapRepeats, "map", () => medianSeconds(() => s.all.map(square, items), opts.sizes.directMapRepeats, 0));
}

async function pushPull(s: Session, figures: Partial<OurFigures>, opts: OurRunOptions): Promise<void> {
  const big = new Float64Array(opts.sizes.bigBytes / 8);
  for (let i = 0; i < big.length; i++) big[i] = Math.random();
  const push = await s.cpu.measure("push", opts.sizes.dataRepeats, "push", () => medianOfRuns(() => s.all.push({ big }), opts.sizes.dataRepeats));
  figures.pushSeconds = push.seconds;
  figures.pushSamples = push.samples;
  if (opts.only.has("pull")) {
    const pulled = await s.one.pull<Float64Array>("big");
    if (!(pulled instanceof Float64Array) || pulled.length !== big.length || pulled[12345] !== big[12345]) {
      throw new Error("the pulled array differs from the pushed one");
    }
    const pull = await s.cpu.measure("pull", opts.sizes.dataRepeats, "pull", () => medianOfRuns(() => s.one.pull("big"), opts.sizes.dataRepeats));
    figures.pullSeconds = pull.seconds;
    figures.pullSamples = pull.samples;
  }
  await s.all.execute("delete globalThis.big");
}

async function primeRun(s: Session, limit: number, chunkCount: number): Promise<PrimeRun> {
  const chunks = primeChunks(limit, chunkCount);
  let start = performance.now();
  const serial = chunks.map(countPrimes);
  const serialSeconds = seconds(start);
  start = performance.now();
  const parallel = await s.lv.map(countPrimes, chunks, { chunkSize: 1 });
  const parallelSeconds = seconds(start);
  if (parallel.join() !== serial.join()) throw new Error("parallel prime counts differ from the serial ones");
  return { limit, chunks: chunkCount, count: serial.reduce((a, b) => a + b, 0), serialSeconds, parallelSeconds };
}

async function cpuBound(s: Session, figures: Partial<OurFigures>, opts: OurRunOptions): Promise<void> {
  await s.lv.map(countPrimes, primeChunks(1000, 2), { chunkSize: 1 }); // ships the function first
  figures.primes = await s.cpu.measure("cpu", 1, "run", () => primeRun(s, opts.sizes.primeLimit, opts.sizes.primeChunks));
  figures.cpuSpeedup = figures.primes.serialSeconds / figures.primes.parallelSeconds;
  figures.primesAtTheirLimit = await primeRun(s, opts.theirPrimeLimit, opts.sizes.primeChunks);
}

/** Starts a private 2-engine cluster of ours, runs the selected workloads, stops it. */
export async function runOurs(opts: OurRunOptions): Promise<Partial<OurFigures>> {
  // A private profile root: the bench never touches (or trips over) the user's running clusters.
  const root = mkdtempSync(join(tmpdir(), "tsp-bench-"));
  process.env.TSPARALLEL_DIR = root;
  const figures: Partial<OurFigures> = { version: tsparallelVersion(), node: process.version };
  const start = performance.now();
  const cluster = await Cluster.start({ n: 2, profile: "bench", timeout: 60_000, controllerArgs: opts.controllerArgs, engineArgs: opts.engineArgs });
  let rc: Client | undefined;
  try {
    rc = await cluster.connect({ activate: false });
    await rc.waitForEngines(2, { timeout: 60_000 });
    figures.clusterStartSeconds = seconds(start);
    opts.log(`cluster up in ${figures.clusterStartSeconds.toFixed(3)} s, engines ${rc.ids.join(", ")}`);
    const ids = rc.ids;
    const pids = await enginePids(rc, cluster);
    figures.processes = { controller: cluster.controller.pid, engines: pids };
    const cpu = new CpuAccounting(figures.processes);
    figures.cpu = cpu.shares;
    const s: Session = { rc, one: rc.directView(ids[0]!), all: rc.directView(ids.slice(0, 2)), lv: rc.loadBalancedView(), pids, cpu };
    figures.engineRssAtStartBytes = s.pids.map(rssBytes);
    // Both sides let freshly started engines settle (lazy loading, JIT) before anything is timed.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

    await roundTrips(s, figures, opts);
    if (opts.only.has("rss")) await idleRss(s, figures);
    opts.log("round trips done");
    await throughput(s, figures, opts);
    opts.log("task throughput done");
    if (opts.only.has("dmap")) await directMap(s, figures, opts);
    if (opts.only.has("push") || opts.only.has("pull")) await pushPull(s, figures, opts);
    opts.log("data done");
    if (opts.only.has("cpu")) await cpuBound(s, figures, opts);
    opts.log("cpu-bound map done");
  } catch (err) {
    opts.log(`our run failed; controller and engine logs are kept under ${root}`);
    throw err;
  } finally {
    rc?.close();
    await cluster.stop();
  }
  rmSync(root, { recursive: true, force: true });
  return figures;
}
