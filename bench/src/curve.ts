import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "tsparallel";
import type { Sizes } from "./figures.js";
import { medianOfRuns, medianSeconds } from "./timing.js";

export interface CurveFigures {
  /** Median apply round trip on one engine, seconds. */
  applyRoundTripSeconds: number;
  /** Median push of `bytes` to two engines, seconds. */
  pushSeconds: number;
  bytes: number;
}

const nothing = (): null => null;

/** A 2-engine cluster with CURVE on or off (tspcontroller --curve / --no-curve): apply round trip and a big push. */
async function measure(curve: boolean, sizes: Sizes, log: (m: string) => void): Promise<CurveFigures> {
  const cluster = await Cluster.start({ n: 2, profile: curve ? "bench-curve" : "bench-plain", timeout: 60_000, curve });
  const rc = await cluster.connect({ activate: false });
  try {
    await rc.waitForEngines(2, { timeout: 60_000 });
    const one = rc.directView(rc.ids[0]!);
    const all = rc.directView(rc.ids.slice(0, 2));
    const applyRoundTripSeconds = await medianSeconds(() => one.apply(nothing), sizes.roundTrips);
    const big = new Float64Array(sizes.bigBytes / 8).map(() => Math.random());
    const push = await medianOfRuns(() => all.push({ big }), sizes.dataRepeats);
    await all.execute("delete globalThis.big");
    log(`CURVE ${curve ? "on" : "off"}: apply ${(applyRoundTripSeconds * 1000).toFixed(3)} ms, push ${push.seconds.toFixed(3)} s`);
    return { applyRoundTripSeconds, pushSeconds: push.seconds, bytes: sizes.bigBytes };
  } finally {
    rc.close();
    await cluster.stop();
  }
}

/** The cost of encryption: the same two workloads on a plaintext and on a CURVE cluster, one after the other. */
export async function runCurveComparison(sizes: Sizes, log: (m: string) => void): Promise<{ off: CurveFigures; on: CurveFigures }> {
  const root = mkdtempSync(join(tmpdir(), "tsp-bench-curve-"));
  const previous = process.env.TSPARALLEL_DIR;
  process.env.TSPARALLEL_DIR = root;
  try {
    const off = await measure(false, sizes, log);
    const on = await measure(true, sizes, log);
    return { off, on };
  } finally {
    if (previous === undefined) delete process.env.TSPARALLEL_DIR;
    else process.env.TSPARALLEL_DIR = previous;
    rmSync(root, { recursive: true, force: true });
  }
}

export function renderCurveTable({ off, on }: { off: CurveFigures; on: CurveFigures }): string {
  const mib = off.bytes / 1048576;
  const ms = (s: number) => `${(s * 1000).toFixed(3)} ms`;
  const rate = (f: CurveFigures) => `${f.pushSeconds.toFixed(3)} s (${(mib / f.pushSeconds).toFixed(0)} MiB/s)`;
  return [
    "transport encryption (2 engines, loopback)    CURVE off              CURVE on               on / off",
    `apply round trip (median)                    ${ms(off.applyRoundTripSeconds).padEnd(22)} ${ms(on.applyRoundTripSeconds).padEnd(22)} ${(on.applyRoundTripSeconds / off.applyRoundTripSeconds).toFixed(2)}x`,
    `push ${mib} MiB to 2 engines (median)          ${rate(off).padEnd(22)} ${rate(on).padEnd(22)} ${(on.pushSeconds / off.pushSeconds).toFixed(2)}x`,
  ].join("\n");
}
