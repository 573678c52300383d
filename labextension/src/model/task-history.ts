import type { TaskStreamItem } from './comm-messages.js';

/**
 * The recent finished tasks, for the task stream. Bounded so that a long session of tiny tasks cannot
 * grow the page without limit: the oldest tasks go first.
 */
export class TaskHistory {
  private _tasks: TaskStreamItem[] = [];
  private readonly _seen = new Set<string>();
  private _total = 0;

  constructor(private readonly _capacity = 2000) {}

  /** Tasks kept, oldest first by completion. */
  get tasks(): readonly TaskStreamItem[] {
    return this._tasks;
  }

  /** Every task ever added (kept or since dropped). */
  get total(): number {
    return this._total;
  }

  /** Adds tasks; one already known (same task on the same engine) is ignored. Returns how many were new. */
  add(items: readonly TaskStreamItem[]): number {
    let added = 0;
    for (const item of items) {
      const key = `${item.engineId}/${item.msgId}`;
      if (this._seen.has(key)) continue;
      this._seen.add(key);
      this._tasks.push(item);
      added++;
    }
    if (!added) return 0;
    this._total += added;
    this._tasks.sort((a, b) => a.completed - b.completed);
    if (this._tasks.length > this._capacity) {
      for (const dropped of this._tasks.splice(0, this._tasks.length - this._capacity)) {
        this._seen.delete(`${dropped.engineId}/${dropped.msgId}`);
      }
    }
    return added;
  }

  clear(): void {
    this._tasks = [];
    this._seen.clear();
    this._total = 0;
  }
}
