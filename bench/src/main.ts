/**
 * `npm run bench`: tsparallel and ipyparallel side by side, on the same workloads, in one run.
 *
 *   npm run bench                         both sides, full sizes (about 4 minutes, most of it ipyparallel)
 *   npm run bench -- --quick              smaller sizes, fewer repetitions
 *   npm run bench -- --ours-only          skip the peers (ipyparallel and Dask)
 *   npm run bench -- --no-dask            skip Dask distributed (the second peer)
 *   npm run bench -- --theirs FILE.json   reuse an ipyparallel result saved with --json (no python run)
 *   npm run bench -- --json FILE.json     also write every raw figure
 *   npm run bench -- --only tiny,lbmap    run only these workloads, ours and the peers' (cluster start is always measured; `kernel`: the Jupyter kernel rows)
 *   npm run bench -- --no-kernel          skip the Jupyter kernel rows (ours and IPython: first result after start, RSS after 1,000 cells)
 *   npm run bench -- --profile DIR        CPU-profile our controller, engines and client; print where time went
 *   npm run bench -- --controller-args="--hwm 0" [--engine-args="..."]   try our processes with other settings
 *   npm run bench -- --scale              only the 1,000,000-item chunkSize-1 map (and ipyparallel on 100,000)
 *   npm run bench -- --soak               only 64 engines: time to register, 2 minutes of CPU-bound load, false deaths
 *   npm run bench -- --fanout [--fanout-engines 64,128,256]   only do-on-all calls (execute/apply/push/pull) and registration at those engine counts
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { renderCpuShares } from "./cpu-accounting.js";
import { PROFILER_FRAMES, profileThisProcess, renderSummary, summariseFile } from "./cpu-profile.js";
import { renderCurveTable, runCurveComparison, type CurveFigures } from "./curve.js";
import { sizes, type OurFigures, type TheirFigures } from "./figures.js";
import { measureFloors, type Floors } from "./floor.js";
import { runOurs, WORKLOADS, type Workload } from "./ours.js";
import { load } from "./proc.js";
import { runFanoutBench } from "./fanout.js";
import { ipythonKernel, measureKernel, ourKernel, type KernelFigures } from "./kernel-figures.js";
import { runScaleBench } from "./scale.js";
import { buildRowsWithSecondPeer, kernelRows, renderTable, summary } from "./table.js";
import { DASK, DASK_INSTALL_HINT, INSTALL_HINT, ipyparallelAvailability, peerAvailability, runTheirs } from "./theirs.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "ours-only": { type: "boolean", default: false },
    "no-dask": { type: "boolean", default: false },
    theirs: { type: "string" },
    json: { type: "string" },
    only: { type: "string" },
    profile: { type: "string" },
    "controller-args": { type: "string", default: "" },
    "engine-args": { type: "string", default: "" },
    scale: { type: "boolean", default: false },
    soak: { type: "boolean", default: false },
    fanout: { type: "boolean", default: false },
    "fanout-engines": { type: "string", default: "64,128,256" },
    "no-kernel": { type: "boolean", default: false },
  },
});

/** `kernel` in --only selects the Jupyter kernel rows, which are not a cluster workload. */
const KERNEL_WORKLOAD = "kernel";
const onlyNames = (args.only ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const kernelSelected = !args["no-kernel"] && (!args.only || onlyNames.includes(KERNEL_WORKLOAD));
const clusterOnly = onlyNames.filter((n) => n !== KERNEL_WORKLOAD).join(",");

const log = (side: string) => (message: string) => process.stderr.write(`[bench ${side}] ${message}\n`);

function selectedWorkloads(): Set<Workload> {
  if (!args.only) return new Set(WORKLOADS);
  const names = clusterOnly.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(WORKLOADS as readonly string[]).includes(n));
  if (unknown.length) throw new Error(`unknown workload ${unknown.join(", ")}; choose from ${WORKLOADS.join(", ")}`);
  return new Set(names as Workload[]);
}

/** Children inherit NODE_OPTIONS, so the controller and engines each write a .cpuprofile on exit. */
function profileCluster(dir: string): void {
  mkdirSync(join(dir, "cluster"), { recursive: true });
  const preload = new URL("./profile-preload.js", import.meta.url).href;
  process.env.TSP_BENCH_PROFILE_DIR = join(dir, "cluster");
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import=${preload}`.trim();
}

function printProfiles(dir: string, ours: Partial<OurFigures> | undefined): void {
  const roleOf = (pid: number): string => {
    if (pid === ours?.processes?.controller) return "controller";
    const engine = ours?.processes?.engines.indexOf(pid) ?? -1;
    return engine >= 0 ? `engine ${engine}` : "process";
  };
  const clusterDir = join(dir, "cluster");
  for (const file of readdirSync(clusterDir).filter((f) => f.endsWith(".cpuprofile")).sort()) {
    const pid = Number(/pid-(\d+)/.exec(file)?.[1]);
    const title = `${roleOf(pid)} (pid ${pid}) ${join(clusterDir, file)}`;
    console.log("\n" + renderSummary(title, summariseFile(join(clusterDir, file), 12, PROFILER_FRAMES)));
  }
  console.log("\n" + renderSummary(`client (the bench process) ${join(dir, "client.cpuprofile")}`, summariseFile(join(dir, "client.cpuprofile"), 12, PROFILER_FRAMES)));
}

/** The kernel rows: ours as its kernelspec starts it, then IPython (Debian's ipykernel) if it is there. */
async function measureKernels(quick: boolean, withIpython: boolean): Promise<{ ours?: KernelFigures; ipython?: KernelFigures }> {
  const options = { starts: quick ? 3 : 5, cells: 1000, log: log("kernel") };
  const result: { ours?: KernelFigures; ipython?: KernelFigures } = {};
  try {
    result.ours = await measureKernel(await ourKernel(), options);
  } catch (err) {
    log("kernel")(`tsparallel kernel FAILED: ${(err as Error).message}`);
  }
  if (withIpython) {
    try {
      result.ipython = await measureKernel(ipythonKernel, options);
    } catch (err) {
      log("kernel")(`IPython kernel not measured: ${(err as Error).message}`);
    }
  }
  return result;
}

const splitArgs = (text: string | undefined): string[] => (text ?? "").split(/\s+/).filter(Boolean);

async function main(): Promise<number> {
  if (args.fanout) return runFanoutBench({ counts: args["fanout-engines"]!.split(",").map(Number), quick: args.quick, log });
  if (args.scale || args.soak) return runScaleBench({ map: args.scale, soak: args.soak, quick: args.quick, oursOnly: args["ours-only"], log });
  const sz = sizes(args.quick);
  const theirPrimeLimit = args.quick ? 800_000 : 1_600_000;
  const only = selectedWorkloads();
  const profileDir = args.profile ? resolve(args.profile) : undefined;
  // The peers measure the same selection (their scripts take --only=...); curve is ours only.
  const peerOnly = args.only !== undefined ? [...only].filter((w) => w !== "curve") : undefined;
  const skipPython = args["ours-only"] || profileDir !== undefined || peerOnly?.length === 0;
  const availability = args.theirs || skipPython ? undefined : ipyparallelAvailability();
  const notes: string[] = [];

  let floors: Floors | undefined;
  try {
    floors = await measureFloors(sz.roundTrips * 3, sz.bigBytes);
  } catch (err) {
    log("floor")(`could not measure the ZeroMQ floor: ${(err as Error).message}`);
  }

  let ours: Partial<OurFigures> | undefined;
  let ourError: Error | undefined;
  const loadBefore = load();
  if (profileDir) profileCluster(profileDir);
  const stopClientProfile = profileDir ? await profileThisProcess() : undefined;
  try {
    ours = await runOurs({
      sizes: sz, theirPrimeLimit, only, log: log("tsparallel"),
      controllerArgs: splitArgs(args["controller-args"]), engineArgs: splitArgs(args["engine-args"]),
    });
  } catch (err) {
    ourError = err as Error;
    log("tsparallel")(`FAILED: ${ourError.stack ?? ourError.message}`);
  }
  await stopClientProfile?.(join(profileDir!, "client.cpuprofile"));
  let curve: { off: CurveFigures; on: CurveFigures } | undefined;
  if (only.has("curve") && !profileDir) {
    try {
      curve = await runCurveComparison(sz, log("curve"));
    } catch (err) {
      log("curve")(`FAILED: ${(err as Error).stack ?? (err as Error).message}`);
    }
  }
  notes.push(`load average (1 min) before tsparallel ${loadBefore}, after ${load()}`);

  let theirs: TheirFigures | undefined;
  let theirName = "ipyparallel";
  if (args.theirs) {
    theirs = JSON.parse(readFileSync(args.theirs, "utf8")).theirs as TheirFigures;
    theirName = `ipyparallel ${theirs.version}`;
    notes.push(`ipyparallel figures read from ${args.theirs}, not measured in this run`);
  } else if (availability?.available) {
    theirName = `ipyparallel ${availability.version}`;
    const before = load();
    try {
      theirs = await runTheirs({ quick: sz.quick, primeLimit: theirPrimeLimit, log: log("ipyparallel"), only: peerOnly });
      notes.push(`load average (1 min) before ipyparallel ${before}, after ${load()}; python ${theirs.python}`);
    } catch (err) {
      log("ipyparallel")(`FAILED: ${(err as Error).message}`);
      notes.push("ipyparallel run failed (see above): its column is empty");
    }
  } else if (availability && !availability.available) {
    notes.push(`${INSTALL_HINT} (${availability.reason})`);
  } else if (skipPython) {
    notes.push("ipyparallel skipped (--ours-only, --profile, or --only without a workload of theirs)");
  }

  let dask: TheirFigures | undefined;
  let daskName: string | undefined;
  if (args.theirs) {
    dask = (JSON.parse(readFileSync(args.theirs, "utf8")) as { dask?: TheirFigures }).dask;
    if (dask) daskName = `Dask ${dask.version}`;
  } else if (!skipPython && !args["no-dask"]) {
    const daskAvailable = peerAvailability(DASK);
    if (daskAvailable.available) {
      daskName = `Dask ${daskAvailable.version}`;
      const before = load();
      try {
        dask = await runTheirs({ quick: sz.quick, primeLimit: theirPrimeLimit, log: log("dask"), peer: DASK, only: peerOnly });
        notes.push(`load average (1 min) before Dask ${before}, after ${load()}`);
      } catch (err) {
        log("dask")(`FAILED: ${(err as Error).message}`);
        notes.push("Dask run failed (see above): its column is empty");
      }
    } else {
      notes.push(`${DASK_INSTALL_HINT} (${daskAvailable.reason})`);
    }
  }

  const kernels = kernelSelected ? await measureKernels(sz.quick, !args["ours-only"]) : {};
  const rows = buildRowsWithSecondPeer(ours, theirs, dask, sz, floors);
  if (kernelSelected) rows.push(...kernelRows(kernels.ours, kernels.ipython));
  console.log(renderTable(rows, theirName, daskName));
  console.log("\nratio: > 1 means tsparallel is better (theirs/ours for times, ours/theirs for rates); RSS is ours/theirs. Targets are judged against ipyparallel.");
  if (ours?.primes && theirs?.primes) {
    notes.push(`prime limits: ours ${ours.primes.limit.toLocaleString("en-US")}, ipyparallel ${theirs.primes.limit.toLocaleString("en-US")} (each sized so its serial count takes seconds)`);
  }
  if (ours?.tinyTasksPerSecond !== undefined) notes.push(`task throughput: best of ${sz.throughputRepeats} after ${sz.warmupTasks} warm-up tasks; data transfers: median of ${sz.dataRepeats}`);
  if (args["controller-args"] || args["engine-args"]) notes.push(`our processes ran with controller args "${args["controller-args"]}", engine args "${args["engine-args"]}"`);
  if (sz.quick) notes.push("--quick: smaller sizes, so figures are rougher than a full run");
  for (const note of notes) console.log(`note: ${note}`);
  const { met, judged, missed } = summary(rows);
  console.log(`\ntargets met: ${met} of ${judged}${missed.length ? `; missed: ${missed.join("; ")}` : ""}`);

  if (ours?.cpu?.length) console.log("\n" + renderCpuShares(ours.cpu));
  if (ours?.applyBreakdown) {
    const b = ours.applyBreakdown;
    const ms = (x: number) => `${(x * 1000).toFixed(3)} ms`;
    console.log(`apply round trip, median parts: client→engine start (direct, or through the controller) ${ms(b.outSeconds)}, on the engine ${ms(b.engineSeconds)}, engine done→client ${ms(b.backSeconds)}`);
  }
  if (curve) console.log("\n" + renderCurveTable(curve));
  if (args.json) {
    writeFileSync(args.json, JSON.stringify({ sizes: sz, floors, ours, theirs, dask, kernels, curve, error: ourError?.message }, null, 2) + "\n");
    console.log(`raw figures written to ${args.json}`);
  }
  if (profileDir && ours) printProfiles(profileDir, ours);
  return ourError ? 1 : 0;
}

process.exitCode = await main();
