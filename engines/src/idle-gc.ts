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
  /** One timer for the engine's life, re-armed with refresh(): no timer is made or cleared per task. */
  #timer: NodeJS.Timeout | undefined;
  #armed = false;
  #busy = false;
  #idleSince = 0;

  /** Call when work stops; the collection runs once the engine has been idle for IDLE_MS (busy() in between defers it). */
  idle(): void {
    if (!this.#gc) return;
    this.#busy = false;
    this.#idleSince = performance.now();
    if (!this.#armed) this.#arm();
  }

  busy(): void {
    this.#busy = true;
  }

  #arm(): void {
    this.#armed = true;
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(this.#fire, IDLE_MS).unref();
  }

  readonly #fire = (): void => {
    this.#armed = false;
    // Busy again: the next idle() arms it. Idle, but not for long enough: wait for the rest of the spell.
    if (this.#busy) return;
    if (performance.now() - this.#idleSince < IDLE_MS) this.#arm();
    else this.#gc?.();
  };
}
