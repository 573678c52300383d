import type { EngineRecord } from "./engine-record.js";
import type { EngineRegistry } from "./engines-registry.js";
import type { TaskRecord } from "./records/task-record.js";
import type { Scheduler } from "./schedulers/index.js";
import { UnassignedQueue } from "./unassigned-queue.js";

export interface LoadBalancerHooks {
  /** Sends a placed task to its engine. */
  assign(record: TaskRecord, engine: EngineRecord): void;
  /** A task's lb.timeoutMs passed while it was still unassigned; it has left the queue. */
  expired(record: TaskRecord): void;
}

/** Places load-balanced tasks on engines as capacity allows, oldest first. */
export class LoadBalancer {
  readonly #queue = new UnassignedQueue();
  #assignments = 0;

  constructor(
    private readonly registry: EngineRegistry,
    private readonly scheduler: Scheduler,
    /** Max tasks outstanding on one engine before it stops taking load-balanced ones; 0 = unlimited. */
    private readonly hwm: number,
    private readonly hooks: LoadBalancerHooks,
  ) {}

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
    const stuck = this.#queue.waiting().filter((record) => !this.placeable(record));
    for (const record of stuck) this.remove(record);
    return stuck;
  }

  /** Waiting tasks submitted by one client (abort of "all my tasks"). */
  waitingFrom(clientKey: string): TaskRecord[] {
    return this.#queue.waiting().filter((record) => record.client.key === clientKey);
  }

  /** Assigns as many waiting tasks as engines will take now. */
  place(): void {
    for (;;) {
      const free = this.#free();
      if (free.length === 0) return;
      let best: { record: TaskRecord; seq: number; candidates: readonly EngineRecord[] } | undefined;
      for (const head of this.#queue.heads()) {
        if (best && head.seq > best.seq) continue;
        const candidates = constrained(head.record) ? free.filter((engine) => allowed(head.record, engine)) : free;
        if (candidates.length) best = { ...head, candidates };
      }
      if (!best) return;
      this.#queue.take(best.record);
      clearTimeout(best.record.lb!.timeout);
      const engine = this.scheduler.pick(best.candidates);
      engine.lastAssigned = ++this.#assignments;
      this.hooks.assign(best.record, engine);
    }
  }

  #free(): readonly EngineRecord[] {
    const alive = this.registry.alive();
    if (this.hwm <= 0) return alive;
    return alive.filter((engine) => engine.outstanding < this.hwm);
  }
}

function constrained(record: TaskRecord): boolean {
  return record.lb!.targets !== undefined || (record.lb!.excluded?.size ?? 0) > 0;
}

function allowed(record: TaskRecord, engine: EngineRecord): boolean {
  const lb = record.lb!;
  return engine.alive && (!lb.targets || lb.targets.has(engine.id)) && !lb.excluded?.has(engine.id);
}
