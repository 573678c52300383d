import type { Figures, PrimeRun, Sizes } from "./figures.js";
import type { Floors } from "./floor.js";
import type { KernelFigures } from "./kernel-figures.js";

/**
 * The one table `npm run bench` prints. Ratios are oriented so that > 1 means tsparallel is better,
 * except RSS, which is ours/theirs (< 1 is better), as the issue states its target.
 */
export interface Row {
  workload: string;
  ours: string;
  theirs: string;
  ratio: number | undefined;
  target: string;
  /** undefined: nothing to judge (an informational row, or a missing figure). */
  met: boolean | undefined;
  /** The second peer (Dask distributed), on the same workload, and our ratio to it (not judged). */
  dask?: string;
  daskRatio?: number | undefined;
}

type Side = Partial<Figures> | undefined;

const ms = (s: number) => `${(s * 1000).toFixed(s < 0.01 ? 3 : 2)} ms`;
const sec = (s: number) => `${s.toFixed(s < 1 ? 3 : 2)} s`;
const perSec = (n: number) => `${Math.round(n).toLocaleString("en-US")}/s`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const times = (x: number) => `${x.toFixed(2)}x`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const speedup = (p: PrimeRun) => p.serialSeconds / p.parallelSeconds;
const primeText = (p: PrimeRun) => `${times(speedup(p))} (${p.serialSeconds.toFixed(2)}→${p.parallelSeconds.toFixed(2)} s)`;

/** Issue 13: tiny load-balanced tasks (and a chunkSize-1 map's items) at least 100x ipyparallel's rate. */
export const TINY_TASK_TARGET = 100;

/** A row where smaller is better on both sides (times): ratio = theirs / ours. */
function faster(workload: string, ours: number | undefined, theirs: number | undefined, fmt: (n: number) => string, min: number): Row {
  const ratio = ours !== undefined && theirs !== undefined ? theirs / ours : undefined;
  return { workload, ours: show(ours, fmt), theirs: show(theirs, fmt), ratio, target: `≥ ${min}x`, met: ratio === undefined ? undefined : ratio >= min };
}

/** A row where bigger is better (throughput): ratio = ours / theirs. */
function higher(workload: string, ours: number | undefined, theirs: number | undefined, fmt: (n: number) => string, min: number): Row {
  const ratio = ours !== undefined && theirs !== undefined ? ours / theirs : undefined;
  return { workload, ours: show(ours, fmt), theirs: show(theirs, fmt), ratio, target: `≥ ${min}x`, met: ratio === undefined ? undefined : ratio >= min };
}

function show<T>(value: T | undefined, fmt: (v: T) => string): string {
  return value === undefined ? "—" : fmt(value);
}

/** A row for scale, not judged: what the machine itself allows. */
function info(workload: string, ours: string, theirs = "—"): Row {
  return { workload: `  info: ${workload}`, ours, theirs, ratio: undefined, target: "", met: undefined };
}

export function buildRows(ours: Side, theirs: Side, sizes: Sizes, floors?: Floors): Row[] {
  const o = ours ?? {};
  const t = theirs ?? {};
  const rss = o.idleEngineRssBytes !== undefined && t.idleEngineRssBytes !== undefined ? o.idleEngineRssBytes / t.idleEngineRssBytes : undefined;
  const rows: Row[] = [
    faster("cluster start to 2 ready engines", o.clusterStartSeconds, t.clusterStartSeconds, sec, 10),
    faster(`apply round trip, 1 engine (median of ${sizes.roundTrips})`, o.applyRoundTripSeconds, t.applyRoundTripSeconds, ms, 8),
    faster(`execute round trip, 1 engine (median of ${sizes.roundTrips})`, o.executeRoundTripSeconds, t.executeRoundTripSeconds, ms, 8),
    faster(`apply round trip, warm: the same after ${sizes.steadyRoundTrips.toLocaleString("en-US")} more`, o.applySteadySeconds, t.applySteadySeconds, ms, 8),
    faster(`execute round trip, warm: the same after ${sizes.steadyRoundTrips.toLocaleString("en-US")} more`, o.executeSteadySeconds, t.executeSteadySeconds, ms, 8),
    ...(floors
      ? [
          info("raw ZeroMQ DEALER↔ROUTER round trip, 2 processes", ms(floors.rawRoundTripSeconds)),
          info("same, signed envelope both ends (x2 = apply floor)", ms(floors.protocolRoundTripSeconds)),
        ]
      : []),
    higher(`${sizes.tinyTasks.toLocaleString("en-US")} tiny lb applies, awaited together`, o.tinyTasksPerSecond, t.tinyTasksPerSecond, perSec, TINY_TASK_TARGET),
    higher(`the same, warm: after ${sizes.steadyTasks.toLocaleString("en-US")} more tiny tasks`, o.tinySteadyPerSecond, t.tinySteadyPerSecond, perSec, TINY_TASK_TARGET),
    higher(`lb map of ${sizes.mapItems.toLocaleString("en-US")} items, chunkSize 1`, o.lbMapItemsPerSecond, t.lbMapItemsPerSecond, perSec, TINY_TASK_TARGET),
    faster(`DirectView map of ${sizes.directMapItems / 1000}k items (median of ${sizes.directMapRepeats})`, o.directMapSeconds, t.directMapSeconds, sec, 2),
    faster(`push ${sizes.bigBytes / 2 ** 20} MiB Float64Array to 2 engines (median of ${sizes.dataRepeats})`, o.pushSeconds, t.pushSeconds, sec, 2),
    faster(`pull it from 1 engine (median of ${sizes.dataRepeats})`, o.pullSeconds, t.pullSeconds, sec, 3),
    ...(floors ? [info(`raw ZeroMQ: ${sizes.bigBytes / 2 ** 20} MiB there and back`, sec(floors.bigThereAndBackSeconds))] : []),
    {
      workload: "idle engine RSS (VmRSS, mean of 2)",
      ours: show(o.idleEngineRssBytes, mib),
      theirs: show(t.idleEngineRssBytes, mib),
      ratio: rss,
      target: "≤ 0.75x",
      met: rss === undefined ? undefined : rss <= 0.75,
    },
    {
      ...info("engine RSS incl. child processes (ipyparallel's nanny)", show(o.engineRssWithChildrenBytes, (xs) => mib(mean(xs))), show(t.engineRssWithChildrenBytes, (xs) => mib(mean(xs)))),
      ratio: o.engineRssWithChildrenBytes && t.engineRssWithChildrenBytes ? mean(o.engineRssWithChildrenBytes) / mean(t.engineRssWithChildrenBytes) : undefined,
    },
    info("engine RSS right after start", show(o.engineRssAtStartBytes, (xs) => mib(mean(xs))), show(t.engineRssAtStartBytes, (xs) => mib(mean(xs)))),
    {
      workload: `CPU-bound lb map: primes in ${sizes.primeChunks} chunks, speed-up on 2 engines vs serial`,
      ours: show(o.primes, primeText),
      theirs: show(t.primes, primeText),
      ratio: o.primes && t.primes ? speedup(o.primes) / speedup(t.primes) : undefined,
      target: "ours ≥ 1.85x",
      met: o.primes ? speedup(o.primes) >= 1.85 : undefined,
    },
    info(
      `same at ipyparallel's limit (${(o.primesAtTheirLimit?.limit ?? t.primes?.limit ?? 0).toLocaleString("en-US")})`,
      show(o.primesAtTheirLimit, primeText),
      show(t.primes, primeText),
    ),
  ];
  return rows;
}

/** The Jupyter kernel's rows: ours against IPython (ipykernel), each started as its kernelspec starts it. */
export function kernelRows(ours: KernelFigures | undefined, ipython: KernelFigures | undefined): Row[] {
  const starts = ours?.starts ?? ipython?.starts ?? 0;
  const cells = ours?.cells ?? ipython?.cells ?? 0;
  const firstAfterReady = ours?.firstResultAfterReadySeconds;
  const rssOurs = ours?.rssAfterCellsBytes;
  return [
    {
      ...faster(`kernel: first result after ready, IPython beside (median of ${starts} starts)`, firstAfterReady, ipython?.firstResultAfterReadySeconds, sec, 0),
      target: "ours ≤ 1 s",
      met: firstAfterReady === undefined ? undefined : firstAfterReady <= 1,
    },
    { ...faster("kernel: start to first result (`1 + 1`), IPython beside", ours?.startToFirstResultSeconds, ipython?.startToFirstResultSeconds, sec, 0), target: "", met: undefined },
    info("kernel: start to ready (kernel_info answered)", show(ours?.startToReadySeconds, sec), show(ipython?.startToReadySeconds, sec)),
    info("kernel: its CPU time from start to first result (load-proof)", show(ours?.cpuToFirstResultSeconds, sec), show(ipython?.cpuToFirstResultSeconds, sec)),
    info("kernel: its CPU time from ready to first result (load-proof)", show(ours?.cpuAfterReadySeconds, sec), show(ipython?.cpuAfterReadySeconds, sec)),
    {
      workload: `kernel RSS after ${cells.toLocaleString("en-US")} tiny cells, IPython beside`,
      ours: show(rssOurs, mib),
      theirs: show(ipython?.rssAfterCellsBytes, mib),
      ratio: rssOurs !== undefined && ipython ? rssOurs / ipython.rssAfterCellsBytes : undefined,
      target: "ours ≤ 200 MiB",
      met: rssOurs === undefined ? undefined : rssOurs <= 200 * 2 ** 20,
    },
  ];
}

/**
 * The rows against both peers: the targets are judged against the first (ipyparallel); the second
 * (Dask) adds its figure and our ratio to it, oriented the same way.
 */
export function buildRowsWithSecondPeer(ours: Side, theirs: Side, second: Side, sizes: Sizes, floors?: Floors): Row[] {
  const rows = buildRows(ours, theirs, sizes, floors);
  if (!second) return rows;
  const against = buildRows(ours, second, sizes, floors);
  return rows.map((row, i) => ({ ...row, dask: against[i]!.theirs, daskRatio: against[i]!.ratio }));
}

export function renderTable(rows: Row[], theirName: string, secondName?: string): string {
  const withSecond = secondName !== undefined;
  const header = ["workload", "tsparallel", theirName, "ratio", ...(withSecond ? [secondName, `ratio vs ${secondName.split(" ")[0]}`] : []), "target", "met?"];
  const cells = rows.map((r) => [
    r.workload, r.ours, r.theirs, r.ratio === undefined ? "—" : times(r.ratio),
    ...(withSecond ? [r.dask ?? "—", r.daskRatio === undefined ? "—" : times(r.daskRatio)] : []),
    r.target, r.met === undefined ? "" : r.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const numeric = new Set(withSecond ? [1, 2, 3, 4, 5] : [1, 2, 3]);
  const line = (c: string[]) => `| ${c.map((text, i) => (numeric.has(i) ? text.padStart(widths[i]!) : text.padEnd(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (numeric.has(i) ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...cells.map(line)].join("\n");
}

export function summary(rows: Row[]): { met: number; judged: number; missed: string[] } {
  const judged = rows.filter((r) => r.met !== undefined);
  return { met: judged.filter((r) => r.met).length, judged: judged.length, missed: judged.filter((r) => !r.met).map((r) => r.workload) };
}
