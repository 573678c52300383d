import type { CpuShare } from "./cpu-accounting.js";

/**
 * What one side of the benchmark measured. bench/python/ipp_bench.py prints exactly this shape as JSON,
 * so both sides go through the same table code. Times are seconds, sizes bytes.
 */
export interface PrimeRun {
  limit: number;
  chunks: number;
  count: number;
  serialSeconds: number;
  parallelSeconds: number;
}

export interface Figures {
  clusterStartSeconds: number;
  applyRoundTripSeconds: number;
  executeRoundTripSeconds: number;
  /** The same round trips once the path is warm: after Sizes.steadyRoundTrips more of them (V8 has optimized ours by then). */
  applySteadySeconds: number;
  executeSteadySeconds: number;
  /** Mean VmRSS of the engine processes once they are idle after a few round trips. */
  idleEngineRssBytes: number;
  engineRssBytes: number[];
  /** Each engine plus its child processes (ipyparallel 7 runs a nanny process per engine). */
  engineRssWithChildrenBytes: number[];
  engineRssAtStartBytes: number[];
  tinyTasksPerSecond: number;
  /** Tiny tasks again after Sizes.steadyTasks more of them. */
  tinySteadyPerSecond: number;
  lbMapItemsPerSecond: number;
  directMapSeconds: number;
  pushSeconds: number;
  pushSamples: number[];
  pullSeconds: number;
  pullSamples: number[];
  primes: PrimeRun;
  cpuSpeedup: number;
  /** The same prime count at ipyparallel's (smaller) limit: shows per-task overhead on short work. */
  primesAtTheirLimit?: PrimeRun;
}

/** Medians over apply round trips, split at the engine's own start/complete stamps. */
export interface RoundTripBreakdown {
  /** Client call to the engine starting the task: client, controller and two hops. */
  outSeconds: number;
  /** The engine unpacking, calling and packing. */
  engineSeconds: number;
  /** The engine's result back to the awaiting client: engine, controller and two hops. */
  backSeconds: number;
}

export interface OurFigures extends Figures {
  version: string;
  node: string;
  applyBreakdown: RoundTripBreakdown;
  cpu: CpuShare[];
  /** Process ids, to tell the controller's CPU profile from the engines'. */
  processes: { controller: number; engines: number[] };
}

export interface TheirFigures extends Figures {
  version: string;
  python: string;
}

/** Workload sizes, shared by both sides (the python script has the same constants). */
export interface Sizes {
  quick: boolean;
  roundTrips: number;
  tinyTasks: number;
  mapItems: number;
  warmupTasks: number;
  /** Round trips (of each kind) run before the steady-state medians, on both sides alike. */
  steadyRoundTrips: number;
  /** Tiny tasks run before the steady-state rate, on both sides alike. */
  steadyTasks: number;
  throughputRepeats: number;
  directMapItems: number;
  directMapRepeats: number;
  bigBytes: number;
  dataRepeats: number;
  primeChunks: number;
  /** Our prime limit: sized so the serial count takes a few seconds in V8 (see primes.ts). */
  primeLimit: number;
}

export function sizes(quick: boolean): Sizes {
  return {
    quick,
    roundTrips: quick ? 50 : 300,
    tinyTasks: quick ? 1000 : 5000,
    mapItems: quick ? 1000 : 5000,
    warmupTasks: quick ? 200 : 500,
    steadyRoundTrips: quick ? 500 : 3000,
    steadyTasks: quick ? 4000 : 20_000,
    throughputRepeats: quick ? 1 : 2,
    directMapItems: 200_000,
    directMapRepeats: quick ? 3 : 9,
    bigBytes: 100 * 1024 * 1024,
    dataRepeats: quick ? 2 : 3,
    primeChunks: 16,
    primeLimit: quick ? 6_000_000 : 16_000_000,
  };
}
