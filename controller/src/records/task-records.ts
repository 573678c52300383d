import { Deque } from "../deque.js";
import type { TaskRecord } from "./task-record.js";

export interface RecordLimits {
  /** Completed records that keep their result frames (the newest ones). */
  keepResults: number;
  /** Completed records kept at all; older ones are forgotten entirely. */
  keepRecords: number;
  /** Bytes of result frames kept in all: a few pulls of big arrays must not pin gigabytes. */
  keepResultBytes: number;
  /** A single result larger than this is relayed but not kept: its client already has it. */
  keepResultMaxBytes: number;
}

// As ipyparallel's task database keeps 1,024 records by default: every kept Buffer is work for each GC.
export const DEFAULT_RECORD_LIMITS: RecordLimits = { keepResults: 1024, keepRecords: 10_000, keepResultBytes: 256 * 1024 * 1024, keepResultMaxBytes: 1024 * 1024 };

function frameBytes(record: TaskRecord): number {
  let bytes = 0;
  for (const frame of record.resultFrames) bytes += frame.length;
  return bytes;
}

/**
 * Every task by msgId, in submission order (a Map keeps insertion order, which makes history free).
 * Bounded: result frames of old completed tasks are evicted first, then the old records themselves.
 */
export class TaskRecords {
  readonly #records = new Map<string, TaskRecord>();
  readonly #withResults = new Deque<TaskRecord>();
  readonly #withoutResults = new Deque<TaskRecord>();
  /**
   * Purged records still in each deque (taken out only when they reach its head): not counted against
   * the bounds, or a purge would make the next completion evict a live result or forget a live record.
   */
  #purgedWithResults = 0;
  #purgedWithoutResults = 0;
  #done = 0;
  #failed = 0;
  #resultBytes = 0;

  constructor(private readonly limits: RecordLimits = DEFAULT_RECORD_LIMITS) {}

  /** False when the msgId is already known (the task is then ignored). */
  add(record: TaskRecord): boolean {
    if (this.#records.has(record.msgId)) return false;
    this.#records.set(record.msgId, record);
    return true;
  }

  get(msgId: string): TaskRecord | undefined {
    return this.#records.get(msgId);
  }

  /** Call once a record has finished: counts it and applies the bounds. */
  completed(record: TaskRecord): void {
    this.#done++;
    if (record.status !== "ok") this.#failed++;
    const bytes = frameBytes(record);
    if (bytes > this.limits.keepResultMaxBytes) {
      // Holding a 100 MB pull here would cost the controller its memory and every later GC its time.
      record.dropResults();
      this.#withoutResults.push(record);
    } else {
      this.#withResults.push(record);
      this.#resultBytes += bytes;
    }
    // No closure for the count: this runs once per finished task.
    while (this.#withResults.length - this.#purgedWithResults > this.limits.keepResults || (this.#resultBytes > this.limits.keepResultBytes && this.#withResults.length - this.#purgedWithResults > 0)) {
      const old = this.#withResults.shift()!;
      // Looked up only while purged records wait in the deque: a lookup per finished task in a map of
      // tens of thousands was a measurable share of a big map's cost.
      if (this.#purgedWithResults > 0 && this.#records.get(old.msgId) !== old) {
        this.#purgedWithResults--;
        continue;
      }
      this.#resultBytes -= frameBytes(old);
      old.dropResults();
      this.#withoutResults.push(old);
    }
    const keepBare = Math.max(0, this.limits.keepRecords - this.limits.keepResults);
    while (this.#withoutResults.length - this.#purgedWithoutResults > keepBare) {
      const old = this.#withoutResults.shift()!;
      if (this.#purgedWithoutResults === 0 || this.#records.get(old.msgId) === old) this.#records.delete(old.msgId);
      else this.#purgedWithoutResults--;
    }
  }

  /** Forgets a finished task; false when it is unknown or still pending (which is kept). */
  purge(msgId: string): boolean {
    const record = this.#records.get(msgId);
    if (!record || record.pending) return false;
    this.#records.delete(msgId);
    // It stays in its bound deque until shifted out (counted apart meanwhile); from now on it holds nothing.
    if (record.resultsEvicted) this.#purgedWithoutResults++;
    else {
      this.#resultBytes -= frameBytes(record);
      this.#purgedWithResults++;
    }
    record.dropResults();
    return true;
  }

  /**
   * Forgets the oldest finished records (pending ones stay) while `over()` holds, at most `max` of
   * them, telling `culled` each one; returns how many went. What the in-memory task store culls by.
   */
  cullOldest(over: () => boolean, max: number, culled: (msgId: string) => void): number {
    let count = 0;
    for (const record of this.#records.values()) {
      if (count >= max || !over()) break;
      if (record.pending) continue;
      this.purge(record.msgId);
      culled(record.msgId);
      count++;
    }
    return count;
  }

  history(): string[] {
    return [...this.#records.keys()];
  }

  get size(): number {
    return this.#records.size;
  }

  /** Bytes of result frames kept. */
  get resultBytes(): number {
    return this.#resultBytes;
  }

  /** Finished tasks, and how many of them did not end "ok". */
  get counts(): { done: number; failed: number } {
    return { done: this.#done, failed: this.#failed };
  }

  values(): IterableIterator<TaskRecord> {
    return this.#records.values();
  }
}
