/**
 * Work on big inputs (a submission of 100,000 tasks, a result_request for as many ids) is done in
 * slices: after SLICE_MS of it the handler lets timers and the other sockets in (heartbeats first
 * among them) before it goes on. A handler that held the loop for seconds would look, to every
 * engine, like a controller that is gone.
 */
export const SLICE_MS = 20;

/** Checking the clock on every item of a million would cost more than the items. */
const CHECK_EVERY = 256;

export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A time budget for one slice of work. */
export class Slice {
  #since = performance.now();
  #count = 0;

  /** True once this slice's time is up (checked every CHECK_EVERY calls). */
  due(): boolean {
    if (++this.#count % CHECK_EVERY !== 0) return false;
    return performance.now() - this.#since >= SLICE_MS;
  }

  /** True whenever SLICE_MS has passed, checked on every call (for loops of few, larger steps). */
  dueNow(): boolean {
    return performance.now() - this.#since >= SLICE_MS;
  }

  /**
   * Lets the loop run, then starts a new slice, unless another loop sharing this slice started one
   * since this one asked: loops that share a slice (the client and engine sockets') share one budget
   * per turn, rather than each running a slice's worth in the same turn after the other.
   */
  async yield(): Promise<void> {
    const asked = performance.now();
    await yieldToLoop();
    if (this.#since <= asked) this.#since = performance.now();
  }
}
