/**
 * A map bounded by the bytes of its values, least recently used first out. The controller keeps its
 * model of an engine's function cache with this same class and the engine's own capacity, and both
 * apply the same operations in the same order (the controller as it sends, the engine as tasks
 * arrive), so the model never believes the engine holds a source it has dropped.
 */
export class ByteLru<V> {
  readonly #entries = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;
  /** The most recently used key: touching it again changes nothing (a batch of tasks names one function over and over). */
  #newest: string | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new RangeError(`a cache capacity must be a positive integer, not ${capacity}`);
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The value without changing its place. */
  peek(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** The value, now the most recently used. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      this.#newest = key;
    }
    return entry.value;
  }

  /** Adds or replaces; the newest entry is never evicted by its own arrival, even when it alone is over the capacity. */
  set(key: string, value: V, bytes: number): void {
    const old = this.#entries.get(key);
    if (old) {
      this.#bytes -= old.bytes;
      this.#entries.delete(key);
    }
    this.#entries.set(key, { value, bytes });
    this.#newest = key;
    this.#bytes += bytes;
    this.#evict(key);
  }

  #evict(keep: string): void {
    for (const [key, entry] of this.#entries) {
      if (this.#bytes <= this.capacity) return;
      if (key === keep) return;
      this.#entries.delete(key);
      this.#bytes -= entry.bytes;
    }
  }
}
