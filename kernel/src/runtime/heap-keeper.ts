import v8 from "node:v8";
import vm from "node:vm";

/** Collect once this much has piled up since the last collection... */
const GROWTH_BYTES = 16 * 1024 * 1024;
/** ... at once when it is this much (a busy kernel is never idle), else after a short idle moment. */
const URGENT_GROWTH_BYTES = 2 * GROWTH_BYTES;
const IDLE_MS = 300;
/** ... and in any case every so many requests. */
const EVERY_REQUESTS = 200;

/**
 * Full garbage collections between requests. Every cell builds a new TypeScript program and type
 * checker; the old ones are garbage, but V8 lets hundreds of megabytes of it pile up before it
 * collects, grows the heap to hold it and keeps that memory. A collection when the kernel goes
 * idle, or right after a request once much has piled up (cells sent back to back never leave the
 * kernel idle), keeps the heap, and so the resident size, near what is really in use. A
 * collection costs tens of milliseconds every few dozen tiny cells.
 */
export class HeapKeeper {
  readonly #gc: () => void;
  #timer: NodeJS.Timeout | null = null;
  #requests = 0;
  #urgent = false;
  #baseline = process.memoryUsage().heapUsed;
  /** Set while the compiler warms up (see holdDuring). */
  #held = false;

  constructor() {
    v8.setFlagsFromString("--expose-gc");
    // A new context sees the flag and exposes gc(); ours was created before it.
    this.#gc = vm.runInNewContext("gc") as () => void;
  }

  /**
   * No collection while `work` runs: the compiler's warm-up grows the heap by what it keeps (the
   * parsed libraries), not by garbage, and a full collection of it in a pause between its steps
   * only delayed the first cell. Growth counts from where the heap stands after it.
   */
  holdDuring(work: Promise<unknown>): void {
    this.#held = true;
    this.busy();
    const release = (): void => {
      this.#held = false;
      this.#baseline = process.memoryUsage().heapUsed;
    };
    work.then(release, release);
  }

  busy(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  idle(): void {
    if (this.#held) return;
    this.#requests++;
    const growth = process.memoryUsage().heapUsed - this.#baseline;
    if (this.#requests >= EVERY_REQUESTS || growth >= URGENT_GROWTH_BYTES) {
      // After the reply and the idle status have left (they are sent asynchronously); a request
      // that arrives meanwhile does not cancel it, or cells sent back to back would never collect.
      if (!this.#urgent) {
        this.#urgent = true;
        setImmediate(() => this.#collect());
      }
      return;
    }
    if (growth < GROWTH_BYTES) return;
    this.#timer = setTimeout(() => this.#collect(), IDLE_MS);
    this.#timer.unref();
  }

  #collect(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#urgent = false;
    this.#requests = 0;
    this.#gc();
    this.#baseline = process.memoryUsage().heapUsed;
  }
}
