/**
 * How late this process's own timer ticks run: time in which the controller could read no socket
 * (a long handler, a GC pause, SIGSTOP, a starved CPU). Heartbeats that arrive in such time wait
 * unread in the socket, so the silence they seem to show is the controller's, not the engine's.
 */
export class LoopLag {
  #last = performance.now();
  #total = 0;

  constructor(private readonly periodMs: number) {}

  /** Call from a timer of `periodMs`; returns how late this tick ran. */
  tick(): number {
    const now = performance.now();
    const late = Math.max(0, now - this.#last - this.periodMs);
    this.#last = now;
    this.#total += late;
    return late;
  }

  /** Lateness summed since the start, ms. */
  get total(): number {
    return this.#total;
  }
}
