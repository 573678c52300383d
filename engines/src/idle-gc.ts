import v8 from "node:v8";
import vm from "node:vm";

/**
 * Quiet time after the last task before the engine collects garbage: one collection of a small heap
 * costs a few ms, paid once per quiet spell.
 */
const IDLE_MS = 200;

function exposeGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
}

/**
 * V8 keeps the heap it grew for a burst of work (a big pull, thousands of tasks) until allocation
 * pressure says otherwise, so an idle engine would sit on it indefinitely. One full collection after a
 * short quiet spell hands it back: idle engines are cheap, which matters with one engine per core.
 */
export class IdleCollector {
  readonly #gc = exposeGc();
  #timer: NodeJS.Timeout | undefined;

  /** Call when work stops; any call to busy() before IDLE_MS cancels it. */
  idle(): void {
    if (!this.#gc) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#gc?.(), IDLE_MS).unref();
  }

  busy(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
