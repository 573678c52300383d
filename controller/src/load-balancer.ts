import type { EngineRecord } from "./engine-record.js";
import type { EngineRegistry } from "./engines-registry.js";
import type { TaskRecord } from "./records/task-record.js";
import { createScheduler, type Scheduler, type SchemeName } from "./schedulers/index.js";
import { TaskDurations, type WindowMode } from "./task-durations.js";
import { UnassignedQueue } from "./unassigned-queue.js";

export interface LoadBalancerHooks {
  /** Sends a placed task to its engine. */
  assign(record: TaskRecord, engine: EngineRecord): void;
  /** A task's lb.timeoutMs passed while it was still unassigned; it has left the queue. */
  expired(record: TaskRecord): void;
}

/**
 * Places load-balanced tasks on engines as capacity allows, oldest first. An engine takes a task while
 * it holds fewer than the task's window (TaskDurations: the whole hwm for tiny tasks, 1 for long ones).
 */
export class LoadBalancer {
  readonly #queue = new UnassignedQueue();
  readonly #durations: TaskDurations;
  readonly #guided: boolean;
  readonly #otherSchedulers = new Map<SchemeName, Scheduler>();
  #assignments = 0;

  constructor(
    private readonly registry: EngineRegistry,
    private readonly scheduler: Scheduler,
    /** Max tasks outstanding on one engine before it stops taking load-balanced ones; 0 = unlimited. */
    private readonly hwm: number,
    private readonly hooks: LoadBalancerHooks,
    windowMode: WindowMode = "adaptive",
  ) {
    this.#durations = new TaskDurations(windowMode === "adaptive");
    this.#guided = windowMode === "adaptive";
  }

  /** Tasks waiting for an engine. */
  get waiting(): number {
    return this.#queue.length;
  }

  enqueue(record: TaskRecord, timeoutMs?: number): void {
    this.#queue.push(record);
    if (timeoutMs !== undefined && timeoutMs > 0) {
      record.lb!.timeout = setTimeout(() => {
        if (this.#queue.remove(record)) this.hooks.expired(record);
      }, timeoutMs).unref();
    }
  }

  /** Schedulers for tasks that ask for another scheme than the controller's, made on first use. */
  #schedulerFor(scheme: SchemeName): Scheduler {
    let scheduler = this.#otherSchedulers.get(scheme);
    if (!scheduler) this.#otherSchedulers.set(scheme, (scheduler = createScheduler(scheme, this.hwm)));
    return scheduler;
  }

  /** A finished load-balanced task's run time, which sizes how many like it an engine may hold. */
  observe(record: TaskRecord, ms: number): void {
    this.#durations.observe(record.lb!.durationKey, ms);
  }

  /** Retries go back to the front of the queue. */
  requeue(records: readonly TaskRecord[]): void {
    this.#queue.pushFront(records);
  }

  /** Takes a waiting task out (abort); false if it was not waiting. */
  remove(record: TaskRecord): boolean {
    if (!this.#queue.remove(record)) return false;
    clearTimeout(record.lb!.timeout);
    return true;
  }

  /** Whether some alive engine may ever take this task (hwm aside). */
  placeable(record: TaskRecord): boolean {
    return this.registry.alive().some((engine) => allowed(record, engine));
  }

  /** Removes and returns waiting tasks that no alive engine may take, for the caller to fail. */
  takeUnplaceable(): TaskRecord[] {
    const stuck = this.#queue.takeGroupsWhere((head) => !this.placeable(head));
    for (const record of stuck) clearTimeout(record.lb!.timeout);
    return stuck;
  }

  /** Waiting tasks submitted by one client (abort of "all my tasks"). */
  waitingFrom(clientKey: string): TaskRecord[] {
    return this.#queue.filter((record) => record.client.key === clientKey);
  }

  /**
   * Assigns as many waiting tasks as engines will take now. Runs once per placed task, so it makes no
   * objects of its own: two candidate arrays are reused, and the best head is kept in locals.
   */
  place(): void {
    const candidates = this.#candidates;
    const found = this.#found;
    // Fixed for this call: the engines, the guided share (each placement moves one task from waiting
    // to held, so their sum stays) and the window of a kind of task (durations change only as results
    // come back). Worked out once, not once per placed task.
    const alive = this.registry.alive();
    let held = 0;
    for (const engine of alive) held += engine.outstanding;
    const share = this.#guided ? Math.max(1, Math.ceil((this.#queue.length + held) / (GUIDED_FRACTION * Math.max(1, alive.length)))) : Number.POSITIVE_INFINITY;
    let limitKey: string | undefined;
    let keyLimit = 0;
    for (;;) {
      let anyFree = false;
      for (const engine of alive) {
        if (this.hwm <= 0 || engine.outstanding < this.hwm) {
          anyFree = true;
          break;
        }
      }
      if (!anyFree) return;
      let best: TaskRecord | undefined;
      let bestSeq = 0;
      let bestCount = 0;
      const heads = this.#queue.headsInto(this.#heads, this.#seqs);
      for (let h = 0; h < heads; h++) {
        const record = this.#heads[h]!;
        const seq = this.#seqs[h]!;
        if (best && seq > bestSeq) continue;
        const key = record.lb!.durationKey;
        if (key !== limitKey) {
          const window = Math.min(share, this.#durations.window(key, this.hwm));
          limitKey = key;
          keyLimit = this.hwm <= 0 ? window : Math.min(window, this.hwm);
        }
        const limit = keyLimit;
        const limited = constrained(record);
        let count = 0;
        for (const engine of alive) if (engine.outstanding < limit && (!limited || allowed(record, engine))) found[count++] = engine;
        if (count === 0) continue;
        best = record;
        bestSeq = seq;
        bestCount = count;
        for (let i = 0; i < count; i++) candidates[i] = found[i]!;
      }
      this.#heads.fill(undefined as unknown as TaskRecord, 0, heads);
      if (!best) return;
      const record: TaskRecord = best;
      candidates.length = bestCount;
      this.#queue.take(record);
      if (record.lb!.timeout !== undefined) clearTimeout(record.lb!.timeout);
      const scheme = record.lb!.scheme;
      const engine = (scheme && scheme !== this.scheduler.scheme ? this.#schedulerFor(scheme) : this.scheduler).pick(candidates);
      engine.lastAssigned = ++this.#assignments;
      this.hooks.assign(record, engine);
    }
  }

  /** The chosen head's candidate engines, and the ones of the head being looked at (reused: see place). */
  readonly #candidates: EngineRecord[] = [];
  readonly #found: EngineRecord[] = [];
  readonly #heads: TaskRecord[] = [];
  readonly #seqs: number[] = [];
}

/**
 * Guided self-scheduling: an engine holds at most a quarter of its even share of the work left (the
 * `share` in place). A run-time estimate can mislead (a function first tried on small inputs); this
 * bound still leaves each engine at most one task queued once the work left is small, so the tail of
 * a map balances.
 */
const GUIDED_FRACTION = 4;

function constrained(record: TaskRecord): boolean {
  return record.lb!.targets !== undefined || (record.lb!.excluded?.size ?? 0) > 0;
}

function allowed(record: TaskRecord, engine: EngineRecord): boolean {
  const lb = record.lb!;
  return engine.alive && (!lb.targets || lb.targets.has(engine.id)) && !lb.excluded?.has(engine.id);
}
