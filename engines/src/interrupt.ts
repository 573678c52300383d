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

/** One options object for every section (Node validates it per call; no allocation on top). */
const SECTION_OPTIONS = { breakOnSigint: true, displayErrors: false } as const;

function isScriptInterruption(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
}

/**
 * Node's process-wide SIGINT watchdog, as its REPL uses it: `startSigintWatchdog()` counts one more
 * user of the helper thread that turns SIGINT into an interruption of the newest breakOnSigint
 * script. While the count is above zero, a breakOnSigint section only counts up and down (no thread
 * started or joined, no signal handler swapped), and a SIGINT that finds no section sets a pending
 * flag instead of killing the process.
 */
interface WatchdogBinding {
  startSigintWatchdog(): void;
  stopSigintWatchdog(): boolean;
}

function watchdogBinding(): WatchdogBinding | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<WatchdogBinding> }).binding("contextify");
    if (typeof binding.startSigintWatchdog === "function" && typeof binding.stopSigintWatchdog === "function") return binding as WatchdogBinding;
  } catch {
    // Not in this Node: the engine falls back to a SIGINT listener.
  }
  return undefined;
}

/**
 * [0]: how deep the main thread is in breakOnSigint sections; [1]: how many sections SIGINT has
 * stopped. Shared with the heartbeat thread, which sends SIGINT only when a section can take it.
 */
export const interruptState = new Int32Array(new SharedArrayBuffer(8));
const DEPTH = 0;
const STOPPED = 1;

/**
 * Runs fn synchronously where SIGINT can break it; an interruption surfaces as InterruptError.
 * While the Interrupter holds Node's SIGINT watchdog this costs a counter; without it, Node starts
 * and joins a watchdog thread per call.
 */
export function callInterruptibly<T>(fn: () => T): T {
  const slot = globalThis as Slot;
  const outer = slot[CALL_SLOT];
  slot[CALL_SLOT] = fn;
  Atomics.add(interruptState, DEPTH, 1);
  try {
    // displayErrors off: errors passing through keep the stack their code gave them.
    return trampoline.runInThisContext(SECTION_OPTIONS) as T;
  } catch (err) {
    if (!isScriptInterruption(err)) throw err;
    Atomics.add(interruptState, STOPPED, 1);
    throw new InterruptError();
  } finally {
    Atomics.sub(interruptState, DEPTH, 1);
    // Left holding undefined, not deleted: a delete on the global object and the re-add of the next
    // call make V8 replace the slot's property cell every section (twice the cost of a section).
    slot[CALL_SLOT] = outer;
  }
}

/**
 * How the heartbeat thread delivers an interrupt (signal_request SIGINT): SIGINT when the main thread
 * is inside a section, which the watchdog then stops, and a message to the main thread either way
 * (Interrupter#requested), carrying the sections-stopped count as it was before.
 */
export function deliverInterrupt(state: Int32Array, post: (stoppedBefore: number) => void): void {
  const stoppedBefore = Atomics.load(state, STOPPED);
  if (Atomics.load(state, DEPTH) > 0) process.kill(process.pid, "SIGINT");
  // Should the section have ended before the signal came, the signal only set the watchdog's pending
  // flag, and the message stands in for it; when a section took it, the main thread ignores the message.
  post(stoppedBefore);
}

/**
 * Owns SIGINT for the engine: it never kills the process. A synchronous section is stopped by
 * Node's SIGINT watchdog (callInterruptibly); while a task awaits, an interrupt rejects the task's
 * race with InterruptError (the abandoned promise is left to settle on its own).
 *
 * The main thread holds the watchdog for the engine's life: no thread, no listener, nothing to pay
 * until a SIGINT comes. It has no `process.on("SIGINT")` listener: with one, every breakOnSigint call
 * would remove and re-add it, and that removal hands SIGINT to the default action (death) while the
 * watchdog is held. So a SIGINT from outside that finds no running section is absorbed; interrupts of
 * awaiting tasks come from the heartbeat thread as messages (`deliverInterrupt`). User code that adds
 * its own SIGINT listener takes SIGINT over. Without the binding (another Node), a plain listener does
 * the job and sections pay Node's per-call watchdog thread, as before.
 */
export class Interrupter {
  #reject: ((err: Error) => void) | null = null;
  #binding: WatchdogBinding | undefined;
  #listening = false;
  readonly #onSigint = (): void => this.#interrupt();

  constructor(private readonly onIdleSignal: () => void) {}

  install(): void {
    this.#binding = watchdogBinding();
    if (this.#binding) this.#binding.startSigintWatchdog();
    else {
      this.#listening = true;
      process.on("SIGINT", this.#onSigint);
    }
  }

  uninstall(): void {
    this.#binding?.stopSigintWatchdog();
    this.#binding = undefined;
    if (this.#listening) process.off("SIGINT", this.#onSigint);
    this.#listening = false;
  }

  /**
   * An interrupt the heartbeat thread delivered. A section stopped since it was sent took it (its
   * SIGINT did the work); otherwise it is for the awaiting task, or finds the engine idle.
   */
  requested(stoppedBefore: number): void {
    if (Atomics.load(interruptState, STOPPED) !== stoppedBefore) return;
    this.#interrupt();
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
