import type { ClusterSnapshot } from "@tsparallel/protocol";
import { readFileSync } from "node:fs";
import { constants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram, type PerformanceEntry } from "node:perf_hooks";

type LoopFigures = NonNullable<ClusterSnapshot["controller"]["loop"]>;
type HoldFigures = NonNullable<LoopFigures["hold"]>;

/** How often the hold tracer's timer is due (ms): its lateness is the hold it measures. */
const TRACE_TICK_MS = 10;
/** Handlers named in a hold's figures: the ones with the most wall time in it. */
const HOLD_SPANS = 6;

interface SpanTotals {
  count: number;
  ms: number;
  cpuMs: number;
}

/**
 * Watches the controller's own loop: the target is that no handler holds it for more than
 * ~50 ms, however big the work queued. A delay histogram catches every hold (decoding, handlers,
 * timers, GC); timing each handler names the slowest. The CPU time beside it tells a handler that
 * worked long from one that was only descheduled on a busy machine, so the slowest is the one that
 * used the most CPU (the process's, so ZeroMQ's I/O threads and the task store's writer thread count
 * too: an upper bound; this thread's own from /proc cost the round trip several percent). A garbage
 * collection lands in whichever handler allocates when it is due, so the GC pauses that overlapped
 * the slowest handler are said beside it, and the longest pause apart.
 *
 * With thread CPU it also traces what fills the longest hold (a 10 ms timer's lateness marks it): the
 * loop thread's CPU and its wait for a core in it (schedstat), the GC pauses, the timed handlers by
 * name; and the same for the hold longest once that wait is taken off, which is what the controller
 * itself held (on a loaded machine the longest hold by wall time is mostly waiting for a core).
 *
 * `cpu: "thread"` judges by this thread's own CPU instead (two /proc reads a timed span: for the
 * bench and diagnosis, not the default). Process CPU blamed "sending after task_reply", a flush of at
 * most one engine's window of tasks and results, for 50-100 ms that the writer thread and ZeroMQ's
 * I/O thread had used meanwhile: this thread's own share of it was at most 32 ms, GC steps included.
 */
export class LoopWatch {
  readonly #delay: IntervalHistogram;
  readonly #gc: PerformanceObserver;
  #slowest: LoopFigures["slowest"];
  /** When the slowest ran (performance.now()), to find the GC pauses within it. */
  #slowestSpan: [number, number] = [0, 0];
  #longestGcMs = 0;
  readonly #cpuMsNow: () => number;
  readonly #cpu: LoopCpu;
  /**
   * With thread CPU only (its /proc reads are paid anyway): the timed spans since the tracer's last
   * tick, by what, so the longest hold can say what ran in it; the delay histogram only says how long.
   */
  #turn?: Map<string, SpanTotals>;
  #tracer?: NodeJS.Timeout;
  #lastTick = 0;
  #lastTickCpu = 0;
  #lastTickWait = 0;
  /** The longest hold by wall time, and by wall time less the wait for a core (what the controller itself did: work, GC). */
  readonly #holds = { wall: new LongestHold(), own: new LongestHold() };

  constructor(cpu: LoopCpu = "process") {
    this.#cpu = cpu === "thread" && threadCpuMsNow() !== undefined ? "thread" : "process";
    this.#cpuMsNow = this.#cpu === "thread" ? () => threadCpuMsNow() ?? 0 : processCpuMsNow;
    this.#delay = monitorEventLoopDelay({ resolution: 10 });
    this.#delay.enable();
    // GC entries arrive after the fact (the next turn), with their start on the same clock.
    this.#gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.#longestGcMs = Math.max(this.#longestGcMs, entry.duration);
        const [from, to] = this.#slowestSpan;
        if (this.#slowest && entry.startTime < to && entry.startTime + entry.duration > from) this.#slowest.gcMs = round((this.#slowest.gcMs ?? 0) + entry.duration);
        for (const hold of [this.#holds.wall, this.#holds.own]) hold.gc(entry);
      }
    });
    this.#gc.observe({ entryTypes: ["gc"] });
    if (this.#cpu === "thread") this.#startTracer();
  }

  #startTracer(): void {
    this.#turn = new Map();
    this.#lastTick = performance.now();
    this.#lastTickCpu = this.#cpuMsNow();
    this.#lastTickWait = threadWaitMsNow();
    this.#tracer = setInterval(() => this.#tick(), TRACE_TICK_MS);
    this.#tracer.unref();
  }

  /** A late tick ends a hold: keeps it, with what ran in it, when it is the longest so far. */
  #tick(): void {
    const now = performance.now();
    const cpu = this.#cpuMsNow();
    const wait = threadWaitMsNow();
    const heldMs = now - this.#lastTick - TRACE_TICK_MS;
    const waitMs = wait - this.#lastTickWait;
    const candidate = () => {
      const spans = [...this.#turn!].map(([what, t]) => ({ what, count: t.count, ms: round(t.ms), cpuMs: round(t.cpuMs) }));
      let timedMs = 0;
      for (const span of spans) timedMs += span.ms;
      spans.sort((a, b) => b.ms - a.ms);
      const figures: HoldFigures = { ms: round(heldMs), cpuMs: round(cpu - this.#lastTickCpu), waitMs: round(waitMs), untimedMs: round(Math.max(0, now - this.#lastTick - timedMs)), spans: spans.slice(0, HOLD_SPANS) };
      return figures;
    };
    this.#holds.wall.offer(heldMs, this.#lastTick, now, candidate);
    this.#holds.own.offer(heldMs - waitMs, this.#lastTick, now, candidate);
    this.#turn!.clear();
    this.#lastTick = now;
    this.#lastTickCpu = cpu;
    this.#lastTickWait = wait;
  }

  /** Runs `work` (synchronously) and keeps it if it used the most CPU so far. */
  time<T>(what: string, work: () => T): T {
    const started = performance.now();
    const cpu = this.#cpuMsNow();
    try {
      return work();
    } finally {
      const ended = performance.now();
      // Judged by CPU time: on a loaded machine a cheap handler's wall time is mostly waiting for a core.
      // One thread cannot use more CPU than the wall time: the kernel updates schedstat at its ticks, so a
      // short span can read CPU used just before it (46.6 ms in a 0 ms span, seen at load 19).
      const cpuMs = this.#cpu === "thread" ? Math.min(this.#cpuMsNow() - cpu, ended - started) : this.#cpuMsNow() - cpu;
      if (this.#turn) {
        const totals = this.#turn.get(what);
        if (totals) {
          totals.count++;
          totals.ms += ended - started;
          totals.cpuMs += cpuMs;
        } else this.#turn.set(what, { count: 1, ms: ended - started, cpuMs });
      }
      if (cpuMs > (this.#slowest?.cpuMs ?? -1)) {
        this.#slowest = { what, ms: round(ended - started), cpuMs: round(cpuMs) };
        this.#slowestSpan = [started, ended];
      }
    }
  }

  figures(): LoopFigures {
    const figures: LoopFigures = { longestHoldMs: round(this.#delay.max / 1e6), longestGcMs: round(this.#longestGcMs), cpu: this.#cpu };
    if (this.#slowest) figures.slowest = { ...this.#slowest };
    const hold = this.#holds.wall.figures();
    if (hold) figures.hold = hold;
    const ownHold = this.#holds.own.figures();
    if (ownHold) figures.ownHold = ownHold;
    return figures;
  }

  stop(): void {
    this.#delay.disable();
    this.#gc.disconnect();
    clearInterval(this.#tracer);
  }
}

/** The longest hold by one measure, with what filled it (the GC pauses in it arrive later, from the observer). */
class LongestHold {
  #by = 0;
  #figures?: HoldFigures;
  #span: [number, number] = [0, 0];
  #longestGc = 0;

  offer(by: number, from: number, to: number, figures: () => HoldFigures): void {
    if (by <= this.#by) return;
    this.#by = by;
    this.#figures = figures();
    this.#span = [from, to];
    this.#longestGc = 0;
  }

  gc(entry: PerformanceEntry): void {
    const [from, to] = this.#span;
    if (!this.#figures || entry.startTime >= to || entry.startTime + entry.duration <= from) return;
    this.#figures.gcMs = round((this.#figures.gcMs ?? 0) + entry.duration);
    if (entry.duration > this.#longestGc) {
      this.#longestGc = entry.duration;
      this.#figures.gcKind = gcKindName((entry as unknown as { detail?: { kind?: number } }).detail?.kind);
    }
  }

  figures(): HoldFigures | undefined {
    return this.#figures && { ...this.#figures, spans: this.#figures.spans.map((s) => ({ ...s })) };
  }
}

/** Whose CPU time judges the slowest handler: the process's (all its threads), or this thread's alone. */
export type LoopCpu = "process" | "thread";

/** The loop watch's CPU source, from the environment: TSPARALLEL_LOOP_CPU=thread (the bench sets it) or the default. */
export function loopCpuFromEnv(env: NodeJS.ProcessEnv = process.env): LoopCpu {
  return env.TSPARALLEL_LOOP_CPU === "thread" ? "thread" : "process";
}

/** This thread's CPU time (ms) from Linux's schedstat; undefined where there is none. */
function threadCpuMsNow(): number | undefined {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "latin1").split(" ", 1)[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** How long this thread has waited, runnable, for a core (ms; schedstat's second field); 0 where there is none. */
function threadWaitMsNow(): number {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "latin1").split(" ", 2)[1]) / 1e6;
  } catch {
    return 0;
  }
}

/** A GC entry's kind (node:perf_hooks' constants.NODE_PERFORMANCE_GC_*) by name. */
function gcKindName(kind: number | undefined): string {
  switch (kind) {
    case constants.NODE_PERFORMANCE_GC_MINOR:
      return "minor";
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return "major";
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return "incremental";
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return "weakcb";
    default:
      return String(kind);
  }
}

/** The process's CPU time (ms). A thread's own (/proc/thread-self/schedstat) cost ~2 µs a read, 6 reads a message: a measurable share of a round trip. */
function processCpuMsNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
