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

  /** Assigns as many waiting tasks as engines will take now. */
  place(): void {
    for (;;) {
      const free = this.#free();
      if (free.length === 0) return;
      let best: { record: TaskRecord; seq: number; candidates: readonly EngineRecord[] } | undefined;
      const share = this.#guidedShare();
      for (const head of this.#queue.heads()) {
        if (best && head.seq > best.seq) continue;
        const window = Math.min(share, this.#durations.window(head.record.lb!.durationKey, this.hwm));
        const candidates = free.filter((engine) => engine.outstanding < window && (!constrained(head.record) || allowed(head.record, engine)));
        if (candidates.length) best = { ...head, candidates };
      }
      if (!best) return;
      this.#queue.take(best.record);
      clearTimeout(best.record.lb!.timeout);
      const scheme = best.record.lb!.scheme;
      const engine = (scheme && scheme !== this.scheduler.scheme ? this.#schedulerFor(scheme) : this.scheduler).pick(best.candidates);
      engine.lastAssigned = ++this.#assignments;
      this.hooks.assign(best.record, engine);
    }
  }

  /**
   * Guided self-scheduling: an engine holds at most a quarter of its even share of the work left. A
   * run-time estimate can mislead (a function first tried on small inputs); this bound still leaves each
   * engine at most one task queued once the work left is small, so the tail of a map balances.
   */
  #guidedShare(): number {
    if (!this.#guided) return Number.POSITIVE_INFINITY;
    const alive = this.registry.alive();
    let held = 0;
    for (const engine of alive) held += engine.outstanding;
    return Math.max(1, Math.ceil((this.#queue.length + held) / (GUIDED_FRACTION * Math.max(1, alive.length))));
  }

  #free(): readonly EngineRecord[] {
    const alive = this.registry.alive();
    if (this.hwm <= 0) return alive;
    return alive.filter((engine) => engine.outstanding < this.hwm);
  }
}

/** The share of an engine's even part of the remaining work it may hold (1/4: see #guidedShare). */
const GUIDED_FRACTION = 4;

function constrained(record: TaskRecord): boolean {
  return record.lb!.targets !== undefined || (record.lb!.excluded?.size ?? 0) > 0;
}

function allowed(record: TaskRecord, engine: EngineRecord): boolean {
  const lb = record.lb!;
  return engine.alive && (!lb.targets || lb.targets.has(engine.id)) && !lb.excluded?.has(engine.id);
}
