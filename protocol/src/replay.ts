/**
 * Remembers the signatures of recent messages, as jupyter_client's Session does (`digest_history`),
 * so that a captured message sent again is refused. Bounded: past `capacity` the oldest tenth is
 * forgotten; the date window (see envelope.ts) covers what falls out of the history.
 */
export class ReplayGuard {
  readonly #seen = new Set<string>();

  /**
   * `notBefore` (ms since the epoch): signed messages dated earlier are refused. A controller restarted
   * with its old key (`--restore`) sets it to its start, so nothing it accepted before the restart is
   * accepted again, although its history of signatures is gone.
   */
  constructor(
    readonly capacity: number,
    readonly notBefore = 0,
  ) {}

  /** True the first time a signature is seen, false on a replay. */
  admit(signature: string): boolean {
    if (this.#seen.has(signature)) return false;
    this.#seen.add(signature);
    if (this.#seen.size > this.capacity) this.#cull();
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }

  #cull(): void {
    let drop = Math.max(1, Math.floor(this.capacity / 10));
    for (const old of this.#seen) {
      if (drop-- <= 0) break;
      this.#seen.delete(old);
    }
  }
}
