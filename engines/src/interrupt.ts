import vm from "node:vm";
import { Worker } from "node:worker_threads";

/** What a task that was stopped by SIGINT fails with. The engine itself goes on. */
export class InterruptError extends Error {
  override name = "InterruptError";
  constructor(message = "the task was interrupted (SIGINT)") {
    super(message);
  }
}

const CALL_SLOT = Symbol.for("tsparallel.engine.call");
type Slot = { [CALL_SLOT]?: () => unknown };

/**
 * Synchronous user code runs inside a vm script run with breakOnSigint, which is the only way V8
 * lets a signal stop a `while (true) {}`. The script just calls the thunk parked in a symbol slot of
 * globalThis, so any code (a run of tasks, a cell, an applied function) can be protected this way.
 */
const trampoline = new vm.Script(`globalThis[Symbol.for("tsparallel.engine.call")]()`, { filename: "tsparallel-engine" });

function isScriptInterruption(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
}

/** How deep the main thread is in breakOnSigint sections; the SIGINT holders read it. */
const sectionDepth = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs fn synchronously where SIGINT can break it; an interruption surfaces as InterruptError.
 * Cheap (a counter in Node's SIGINT watchdog) while the Interrupter's holder threads run; without
 * them, Node starts and joins a watchdog thread per call.
 */
export function callInterruptibly<T>(fn: () => T): T {
  const slot = globalThis as Slot;
  const outer = slot[CALL_SLOT];
  slot[CALL_SLOT] = fn;
  Atomics.add(sectionDepth, 0, 1);
  try {
    // displayErrors off: errors passing through keep the stack their code gave them.
    return trampoline.runInThisContext({ breakOnSigint: true, displayErrors: false }) as T;
  } catch (err) {
    throw isScriptInterruption(err) ? new InterruptError() : err;
  } finally {
    Atomics.sub(sectionDepth, 0, 1);
    if (outer) slot[CALL_SLOT] = outer;
    else delete slot[CALL_SLOT];
  }
}

/** How often a holder thread that died is started again before the engine falls back to a listener. */
const HOLDER_RESTARTS = 5;

/**
 * Owns SIGINT for the engine: it never kills the process. A synchronous section is stopped by
 * Node's SIGINT watchdog (callInterruptibly); while a task awaits, SIGINT rejects the task's race
 * with InterruptError (the abandoned promise is left to settle on its own).
 *
 * The watchdog is kept running by two holder threads (`sigint-holder.ts`), which also report each
 * SIGINT that no section took. So an interrupt costs nothing until it is used, and the main thread
 * has no `process.on("SIGINT")` listener: with one, every breakOnSigint call would remove and re-add
 * it, and that removal hands SIGINT back to the default action (death) while the holders' watchdog
 * is still counted as running. The engine's SIGINT is thus its own: user code that adds a SIGINT
 * listener takes it over. Should the holders die for good, a plain listener takes over (sections
 * then pay Node's per-call watchdog thread again, as before the holders).
 */
export class Interrupter {
  #reject: ((err: Error) => void) | null = null;
  readonly #holders = new Set<Worker>();
  #restarts = 0;
  #installed = false;
  #listening = false;
  readonly #onSigint = (): void => this.#interrupt();

  constructor(private readonly onIdleSignal: () => void) {}

  /** Resolves once SIGINT is handled (never the default action, which would kill the engine). */
  async install(): Promise<void> {
    this.#installed = true;
    await Promise.all([this.#startHolder(), this.#startHolder()]);
  }

  uninstall(): void {
    this.#installed = false;
    for (const holder of this.#holders) void holder.terminate();
    this.#holders.clear();
    if (this.#listening) process.off("SIGINT", this.#onSigint);
    this.#listening = false;
  }

  #startHolder(): Promise<void> {
    return new Promise((resolve) => {
      const holder = new Worker(new URL("./sigint-holder.js", import.meta.url), { workerData: { sectionDepth: sectionDepth.buffer } });
      this.#holders.add(holder);
      holder.unref();
      holder.on("message", (message: string) => {
        if (message === "ready") resolve();
        else if (message === "sigint") this.#interrupt();
      });
      holder.on("error", () => {});
      holder.on("exit", () => {
        resolve();
        if (!this.#installed || !this.#holders.delete(holder)) return;
        if (this.#restarts++ < HOLDER_RESTARTS) void this.#startHolder();
        else if (this.#holders.size === 0 && !this.#listening) {
          this.#listening = true;
          process.on("SIGINT", this.#onSigint);
        }
      });
    });
  }

  /** Races a task against SIGINT. */
  async guard<T>(work: () => Promise<T>): Promise<T> {
    const interrupted = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    try {
      return await Promise.race([work(), interrupted]);
    } finally {
      this.#reject = null;
    }
  }

  #interrupt(): void {
    if (this.#reject) this.#reject(new InterruptError());
    else this.onIdleSignal();
  }
}
