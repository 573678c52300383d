import type { ClusterSnapshot } from "@tsparallel/protocol";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

type LoopFigures = NonNullable<ClusterSnapshot["controller"]["loop"]>;

/**
 * Watches the controller's own loop: the target is that no handler holds it for more than
 * ~50 ms, however big the work queued. A delay histogram catches every hold (decoding, handlers,
 * timers, GC); timing each handler names the slowest. The CPU time beside it tells a handler that
 * worked long from one that was only descheduled on a busy machine, so the slowest is the one that
 * used the most CPU (the process's, so ZeroMQ's I/O threads count too: an upper bound).
 */
export class LoopWatch {
  readonly #delay: IntervalHistogram;
  #slowest: LoopFigures["slowest"];

  constructor() {
    this.#delay = monitorEventLoopDelay({ resolution: 10 });
    this.#delay.enable();
  }

  /** Runs `work` (synchronously) and keeps it if it used the most CPU so far. */
  time<T>(what: string, work: () => T): T {
    const started = performance.now();
    const cpu = process.cpuUsage();
    try {
      return work();
    } finally {
      const ms = performance.now() - started;
      // Judged by CPU time: on a loaded machine a cheap handler's wall time is mostly waiting for a core.
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000;
      if (cpuMs > (this.#slowest?.cpuMs ?? -1)) this.#slowest = { what, ms: round(ms), cpuMs: round(cpuMs) };
    }
  }

  figures(): LoopFigures {
    const figures: LoopFigures = { longestHoldMs: round(this.#delay.max / 1e6) };
    if (this.#slowest) figures.slowest = this.#slowest;
    return figures;
  }

  stop(): void {
    this.#delay.disable();
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
