import type { ClusterSnapshot } from "@tsparallel/protocol";
import { closeSync, openSync, readSync } from "node:fs";
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

  /** This thread's schedstat, with thread CPU. */
  readonly #schedstat?: ThreadSchedstat;
  /** Where the last span ended (performance.now(), CPU ms): a span that adjoins it starts there (timeNext). */
  #lastEnded = 0;
  #lastEndedCpu = 0;

  constructor(cpu: LoopCpu = "process") {
    this.#schedstat = cpu === "thread" ? ThreadSchedstat.open() : undefined;
    this.#cpu = this.#schedstat ? "thread" : "process";
    const schedstat = this.#schedstat;
    this.#cpuMsNow = schedstat ? () => schedstat.read().runMs : processCpuMsNow;
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
    const { runMs, waitMs } = this.#schedstat!.read();
    this.#lastTickCpu = runMs;
    this.#lastTickWait = waitMs;
    this.#tracer = setInterval(() => this.#tick(), TRACE_TICK_MS);
    this.#tracer.unref();
  }

  /** A late tick ends a hold: keeps it, with what ran in it, when it is the longest so far. */
  #tick(): void {
    const now = performance.now();
    const { runMs: cpu, waitMs: wait } = this.#schedstat!.read();
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
    return this.#span(what, work, performance.now(), this.#cpuMsNow());
  }

  /**
   * time() for a span that starts where the last one ended, nothing having run between them: the clock
   * and the CPU are read once for both (two reads less per handled message).
   */
  timeNext<T>(what: string, work: () => T): T {
    return this.#span(what, work, this.#lastEnded, this.#lastEndedCpu);
  }

  #span<T>(what: string, work: () => T, started: number, cpu: number): T {
    try {
      return work();
    } finally {
      const ended = performance.now();
      const cpuEnded = this.#cpuMsNow();
      this.#lastEnded = ended;
      this.#lastEndedCpu = cpuEnded;
      // Judged by CPU time: on a loaded machine a cheap handler's wall time is mostly waiting for a core.
      // One thread cannot use more CPU than the wall time: the kernel updates schedstat at its ticks, so a
      // short span can read CPU used just before it (46.6 ms in a 0 ms span, seen at load 19).
      const cpuMs = this.#cpu === "thread" ? Math.min(cpuEnded - cpu, ended - started) : cpuEnded - cpu;
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
    this.#schedstat?.close();
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

/**
 * This thread's Linux schedstat: its CPU time and how long it waited, runnable, for a core (ms). The
 * file stays open and each read is one pread into a reused buffer: readFileSync opened, read and closed
 * it (~9 µs against ~1 µs), and thread CPU reads it at both ends of every timed span.
 */
class ThreadSchedstat {
  readonly #buffer = Buffer.alloc(128);
  readonly #figures = { runMs: 0, waitMs: 0 };
  #fd: number | undefined;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Undefined where there is no such file (not Linux, no schedstats). */
  static open(): ThreadSchedstat | undefined {
    let fd: number | undefined;
    try {
      // /proc/thread-self is this (the loop) thread's: the descriptor stays bound to it.
      fd = openSync("/proc/thread-self/schedstat", "r");
      const length = readSync(fd, Buffer.alloc(128), 0, 128, 0);
      if (length === 0) throw new Error("empty schedstat");
      return new ThreadSchedstat(fd);
    } catch {
      if (fd !== undefined) closeSync(fd);
      return undefined;
    }
  }

  /** The figures now (one object, overwritten by the next read); the last ones if this read fails. */
  read(): { runMs: number; waitMs: number } {
    if (this.#fd === undefined) return this.#figures;
    const buffer = this.#buffer;
    let length: number;
    try {
      length = readSync(this.#fd, buffer, 0, buffer.length, 0);
    } catch {
      return this.#figures;
    }
    // "<run ns> <wait ns> <timeslices>\n", digits only: parsed in place, no strings.
    let at = 0;
    let run = 0;
    while (at < length && buffer[at]! >= 0x30 && buffer[at]! <= 0x39) run = run * 10 + (buffer[at++]! - 0x30);
    if (at === 0 || buffer[at] !== 0x20) return this.#figures;
    at++;
    let wait = 0;
    while (at < length && buffer[at]! >= 0x30 && buffer[at]! <= 0x39) wait = wait * 10 + (buffer[at++]! - 0x30);
    this.#figures.runMs = run / 1e6;
    this.#figures.waitMs = wait / 1e6;
    return this.#figures;
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
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
