/** The error a cell ends with when the user interrupts it. */
export class KeyboardInterrupt extends Error {
  override name = "KeyboardInterrupt";
  constructor() {
    super("the cell was interrupted");
  }
}

/**
 * SIGINT (from the frontend's interrupt, the control channel's interrupt_request, or Ctrl-C)
 * while a cell awaits something: the cell's promise is abandoned with KeyboardInterrupt. While a
 * cell runs synchronously, `vm`'s breakOnSigint stops it instead.
 */
export class Interrupts {
  #waiters = new Set<(err: Error) => void>();
  #listeners = new Set<() => void>();
  /** An interrupt that came while nothing was waiting (the cell was still compiling): the cell stops before it runs. */
  #pending = false;
  #listener = (): void => this.interrupt();

  install(): void {
    process.on("SIGINT", this.#listener);
  }

  uninstall(): void {
    process.off("SIGINT", this.#listener);
  }

  /** Also told of every interrupt (a pending input() gives up, say). */
  onInterrupt(listener: () => void): void {
    this.#listeners.add(listener);
  }

  interrupt(): void {
    for (const listener of this.#listeners) listener();
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    if (waiters.length === 0) this.#pending = true;
    for (const reject of waiters) reject(new KeyboardInterrupt());
  }

  /** Forgets an interrupt that came between cells: it was meant for a cell that has finished. */
  clearPending(): void {
    this.#pending = false;
  }

  /**
   * Lets a SIGINT that arrived during synchronous work (compiling the cell) reach its handler, then
   * throws KeyboardInterrupt if there was one: vm's breakOnSigint only sees signals that arrive
   * while the cell itself runs.
   */
  async checkpoint(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#pending) {
      this.#pending = false;
      throw new KeyboardInterrupt();
    }
  }

  /** Races a promise against the next interrupt. */
  race<T>(promise: Promise<T>): Promise<T> {
    let reject!: (err: Error) => void;
    const interrupted = new Promise<never>((_, r) => (reject = r));
    this.#waiters.add(reject);
    return Promise.race([promise, interrupted]).finally(() => this.#waiters.delete(reject));
  }
}
