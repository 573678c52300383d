import v8 from "node:v8";
import vm from "node:vm";

/** Collect once this much has piled up since the last collection. */
const GROWTH_BYTES = 32 * 1024 * 1024;
const IDLE_MS = 300;
/** ... and in any case every so many requests, for a busy kernel that is never idle. */
const EVERY_REQUESTS = 200;

/**
 * Full garbage collections between requests. Every cell builds a new TypeScript program and type
 * checker; the old ones are garbage, but V8 lets hundreds of megabytes of it pile up before it
 * collects, and the process keeps that memory. A collection when the kernel goes idle (or every
 * EVERY_REQUESTS requests) keeps the resident size near what is really in use.
 */
export class HeapKeeper {
  readonly #gc: () => void;
  #timer: NodeJS.Timeout | null = null;
  #requests = 0;
  #baseline = process.memoryUsage().heapUsed;

  constructor() {
    v8.setFlagsFromString("--expose-gc");
    // A new context sees the flag and exposes gc(); ours was created before it.
    this.#gc = vm.runInNewContext("gc") as () => void;
  }

  busy(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  idle(): void {
    this.#requests++;
    if (this.#requests >= EVERY_REQUESTS) {
      this.#collect();
      return;
    }
    if (process.memoryUsage().heapUsed - this.#baseline < GROWTH_BYTES) return;
    this.#timer = setTimeout(() => this.#collect(), IDLE_MS);
    this.#timer.unref();
  }

  #collect(): void {
    this.#timer = null;
    this.#requests = 0;
    this.#gc();
    this.#baseline = process.memoryUsage().heapUsed;
  }
}
