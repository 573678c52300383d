import type { FunctionRef, TaskBody } from "@tsparallel/protocol";

/** Work an engine should hold ahead of what it runs: enough to hide a round trip, no more. */
const PIPELINE_MS = 2;
/** Tasks of a function not seen yet: a small start, widened as soon as durations come back. */
const STARTING_WINDOW = 2;
const SMOOTHING = 0.3;

/** What tasks are alike for duration: the same function, or all executes. */
export type WindowMode = "adaptive" | "hwm";

/** One key string per FunctionRef object: the tasks of a submission share it, and a Map finds a string it has hashed before faster. */
const keys = new WeakMap<FunctionRef, string>();

export function durationKey(body: TaskBody): string {
  if (body.kind !== "apply" && body.kind !== "map") return body.kind;
  let key = keys.get(body.fn);
  if (key === undefined) keys.set(body.fn, (key = `fn:${body.fn.hash}`));
  return key;
}

/**
 * Recent run times per kind of task, and from them how many load-balanced tasks of that kind an engine
 * may hold. Tiny tasks get the whole high-water mark (throughput); long ones get 1 or 2, so the next
 * one goes to whichever engine frees up first and uneven work still balances.
 */
/** Kinds of task (one per function) whose run time is remembered. */
const MAX_KINDS = 4096;

export class TaskDurations {
  readonly #emaMs = new Map<string, number>();

  /** `adaptive: false` gives every task the whole hwm, as ipyparallel's scheduler does. */
  constructor(private readonly adaptive = true) {}

  observe(key: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const previous = this.#emaMs.get(key);
    if (previous === undefined && this.#emaMs.size >= MAX_KINDS) {
      // One per distinct function otherwise: the oldest measured kind starts over.
      this.#emaMs.delete(this.#emaMs.keys().next().value!);
    }
    this.#emaMs.set(key, previous === undefined ? ms : previous + SMOOTHING * (ms - previous));
  }

  /** Outstanding tasks an engine may have before it takes one more of this kind (hwm 0 = no cap). */
  window(key: string, hwm: number): number {
    const cap = hwm <= 0 ? Number.POSITIVE_INFINITY : hwm;
    if (!this.adaptive) return cap;
    const ema = this.#emaMs.get(key);
    if (ema === undefined) return Math.min(cap, STARTING_WINDOW);
    return Math.max(1, Math.min(cap, Math.ceil(PIPELINE_MS / Math.max(ema, 0.001))));
  }
}
