import { Deque } from "./deque.js";
import type { TaskRecord } from "./records/task-record.js";

/**
 * Load-balanced tasks waiting for an engine, FIFO. Tasks with the same constraint (allowed targets,
 * excluded engines) share one deque, so a task that cannot be placed yet never makes the scheduler
 * rescan the tasks queued behind it: it looks at one head per constraint group. Removal (abort,
 * timeout) is lazy: the record stops `waiting` and is skipped when it reaches a head.
 */
export class UnassignedQueue {
  /** The tasks any engine may take (most): a field of its own, so a placement needs no Map iteration. */
  readonly #free = new Group("");
  /** The tasks with targets or exclusions, by constraint key. */
  readonly #groups = new Map<string, Group>();
  /** Waiting tasks (removed ones stay in their deque until they reach its head). Their places are on them (lb.seq): no Map per task. */
  #waiting = 0;
  #nextSeq = 0;
  /** Retried tasks go before everything queued, so they count down from -1. */
  #frontSeq = -1;

  get length(): number {
    return this.#waiting;
  }

  push(record: TaskRecord): void {
    if (record.lb!.waiting) return;
    record.lb!.seq = this.#nextSeq++;
    this.#group(record).push(record);
    record.lb!.waiting = true;
    this.#waiting++;
  }

  /** Puts tasks back at the front (retries of a lost engine's tasks), keeping their order. */
  pushFront(records: readonly TaskRecord[]): void {
    for (let i = records.length - 1; i >= 0; i--) {
      const record = records[i]!;
      if (record.lb!.waiting) continue;
      record.lb!.seq = this.#frontSeq--;
      this.#group(record).unshift(record);
      record.lb!.waiting = true;
      this.#waiting++;
    }
  }

  remove(record: TaskRecord): boolean {
    if (!record.lb?.waiting) return false;
    record.lb.waiting = false;
    this.#waiting--;
    return true;
  }

  /**
   * The oldest waiting task of each constraint group and its queue position (lower = older), into arrays
   * the caller reuses (the balancer looks once per placed task): returns how many groups have a head;
   * `records[i]` and `seqs[i]` are the i-th.
   */
  headsInto(records: TaskRecord[], seqs: number[]): number {
    let count = 0;
    const free = this.#free;
    while (free.length && !free.peek()!.lb!.waiting) free.shift();
    const freeHead = free.peek();
    if (freeHead) {
      records[count] = freeHead;
      seqs[count++] = freeHead.lb!.seq!;
    }
    if (this.#groups.size === 0) return count;
    // By value (each group knows its key): no [key, group] pair per group.
    for (const group of this.#groups.values()) {
      while (group.length && !group.peek()!.lb!.waiting) group.shift();
      const head = group.peek();
      if (!head) {
        this.#groups.delete(group.key);
        continue;
      }
      records[count] = head;
      seqs[count++] = head.lb!.seq!;
    }
    return count;
  }

  /** Takes a head returned by headsInto() out of the queue. */
  take(record: TaskRecord): void {
    const key = constraintKey(record);
    const group = key === "" ? this.#free : this.#groups.get(key);
    if (group?.peek() === record) group.shift();
    this.remove(record);
  }

  /**
   * Takes out every waiting task of each constraint group whose head `stuck` says no engine can run
   * (all tasks of a group have the same candidates, so one look per group decides for all of it).
   */
  takeGroupsWhere(stuck: (head: TaskRecord) => boolean): TaskRecord[] {
    const taken: TaskRecord[] = [];
    const heads: TaskRecord[] = [];
    const count = this.headsInto(heads, []);
    for (let i = 0; i < count; i++) {
      const record = heads[i]!;
      if (!stuck(record)) continue;
      const key = constraintKey(record);
      const group = key === "" ? this.#free : this.#groups.get(key)!;
      for (const member of group) if (this.remove(member)) taken.push(member);
      if (key === "") while (this.#free.length) this.#free.shift();
      else this.#groups.delete(key);
    }
    return taken;
  }

  /** Waiting tasks a predicate picks, in queue order within each group (one pass, no sort: the queue may hold a million). */
  filter(pick: (record: TaskRecord) => boolean): TaskRecord[] {
    const picked: TaskRecord[] = [];
    for (const record of this.#free) if (record.lb!.waiting && pick(record)) picked.push(record);
    for (const group of this.#groups.values()) for (const record of group) if (record.lb!.waiting && pick(record)) picked.push(record);
    return picked;
  }

  #group(record: TaskRecord): Group {
    const key = constraintKey(record);
    if (key === "") return this.#free;
    let group = this.#groups.get(key);
    if (!group) this.#groups.set(key, (group = new Group(key)));
    return group;
  }
}

/** The waiting tasks of one constraint key. */
class Group extends Deque<TaskRecord> {
  constructor(readonly key: string) {
    super();
  }
}

/** Tasks with equal keys have equal candidate engines. */
export function constraintKey(record: TaskRecord): string {
  const lb = record.lb!;
  if (!lb.targets && !lb.excluded?.size) return "";
  const targets = lb.targets ? [...lb.targets].sort((a, b) => a - b).join(",") : "*";
  const excluded = lb.excluded?.size ? [...lb.excluded].sort((a, b) => a - b).join(",") : "";
  return `${targets}|${excluded}`;
}
