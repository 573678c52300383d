/** Entries per segment: growing or shrinking one rehashes at most this many (~5 ms), not a million (~40 ms). */
export const SEGMENT_ENTRIES = 131_072;

/**
 * A Map in insertion order, kept as a chain of Maps of at most `segmentEntries` entries each. V8 grows
 * (and shrinks) a Map by rehashing all of it in one go: at a million queued tasks that held the loop
 * ~40 ms inside one submit_request. Lookups try the oldest segment first (finished tasks are mostly
 * the oldest); below `segmentEntries` entries it is one Map. Values are never undefined. Iterating
 * sees the segments there were when it began: deleting meanwhile is safe, keys added meanwhile to a new
 * segment are not seen.
 */
export class SegmentedMap<K, V extends object> {
  #segments: Map<K, V>[] = [new Map()];
  #size = 0;

  constructor(private readonly segmentEntries = SEGMENT_ENTRIES) {}

  get size(): number {
    return this.#size;
  }

  has(key: K): boolean {
    return this.#segmentOf(key) !== undefined;
  }

  get(key: K): V | undefined {
    const segments = this.#segments;
    for (let i = 0; i < segments.length; i++) {
      const value = segments[i]!.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** A known key keeps its place (as in a Map); a new one goes last. */
  set(key: K, value: V): this {
    const known = this.#segmentOf(key);
    if (known) {
      known.set(key, value);
      return this;
    }
    let last = this.#segments[this.#segments.length - 1]!;
    if (last.size >= this.segmentEntries) this.#segments.push((last = new Map()));
    last.set(key, value);
    this.#size++;
    return this;
  }

  delete(key: K): boolean {
    const segments = this.#segments;
    for (let i = 0; i < segments.length; i++) {
      if (!segments[i]!.delete(key)) continue;
      this.#size--;
      // An emptied segment goes (the last one stays, to take new keys).
      if (segments[i]!.size === 0 && segments.length > 1) segments.splice(i, 1);
      return true;
    }
    return false;
  }

  *keys(): IterableIterator<K> {
    // A copy: an emptied segment is spliced out, which would skip the next one.
    for (const segment of this.#segments.slice()) yield* segment.keys();
  }

  *values(): IterableIterator<V> {
    for (const segment of this.#segments.slice()) yield* segment.values();
  }

  #segmentOf(key: K): Map<K, V> | undefined {
    const segments = this.#segments;
    for (let i = 0; i < segments.length; i++) if (segments[i]!.has(key)) return segments[i];
    return undefined;
  }
}
