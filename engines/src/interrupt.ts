import vm from "node:vm";

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

/** Runs fn synchronously where SIGINT can break it; an interruption surfaces as InterruptError. */
export function callInterruptibly<T>(fn: () => T): T {
  const slot = globalThis as Slot;
  slot[CALL_SLOT] = fn;
  try {
    // displayErrors off: errors passing through keep the stack their code gave them.
    return trampoline.runInThisContext({ breakOnSigint: true, displayErrors: false }) as T;
  } catch (err) {
    throw isScriptInterruption(err) ? new InterruptError() : err;
  } finally {
    delete slot[CALL_SLOT];
  }
}

/**
 * Owns SIGINT for the engine: it never kills the process. While a task awaits, SIGINT rejects the
 * task's race with InterruptError (the abandoned promise is left to settle on its own).
 */
export class Interrupter {
  #reject: ((err: Error) => void) | null = null;
  readonly #onSigint = (): void => this.#interrupt();

  constructor(private readonly onIdleSignal: () => void) {}

  install(): void {
    process.on("SIGINT", this.#onSigint);
  }

  uninstall(): void {
    process.off("SIGINT", this.#onSigint);
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
