import type { TaskResult } from "@tsparallel/protocol";
import type { TaskRecord } from "./records/task-record.js";

/** How long a broadcast's first result waits for the others before what is in goes ahead. */
export const GATHER_HOLD_MS = 50;

export interface HeldResult {
  record: TaskRecord;
  result: TaskResult;
  frames: Buffer[];
}

/**
 * The results of one broadcast (a direct task to many engines, sent as one), held so that they reach
 * the client, the task store and the records as one batch instead of one message and one transaction
 * per engine: at 256 engines that per-engine work was most of the controller's time on a do-on-all
 * call. Nothing waits long for a slow engine: results that have waited `holdMs` go ahead, and the rest
 * gather again.
 */
export class Gather {
  #waiting = 0;
  #sealed = false;
  #held: HeldResult[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    /** fromTimer: no handled message will flush what this produces. */
    private readonly release: (held: HeldResult[], fromTimer: boolean) => void,
    private readonly holdMs = GATHER_HOLD_MS,
  ) {}

  /** One more task of the broadcast whose result will come through hold(). */
  expect(): void {
    this.#waiting++;
  }

  /** Every task of the broadcast is known: release once they are all in. */
  seal(): void {
    this.#sealed = true;
    this.#releaseIfComplete();
  }

  hold(held: HeldResult): void {
    this.#held.push(held);
    this.#waiting--;
    if (this.#releaseIfComplete()) return;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#releaseHeld(true);
    }, this.holdMs).unref();
  }

  #releaseIfComplete(): boolean {
    if (!this.#sealed || this.#waiting > 0) return false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#releaseHeld(false);
    return true;
  }

  #releaseHeld(fromTimer: boolean): void {
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    this.release(held, fromTimer);
  }
}
