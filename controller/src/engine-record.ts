import { ByteLru, DEFAULT_LIMITS, type DirectAddress, type EngineInfo, type EngineMetadata, type EngineState } from "@tsparallel/protocol";
import { Deque } from "./deque.js";
import type { TaskRecord } from "./records/task-record.js";

export type Lifecycle = "alive" | "dead" | "stopped";

/**
 * One registered engine and the tasks it holds (sent to it, not yet completed), in the FIFO order the
 * engine runs them. Completion removes from a Set; the order deque drops finished heads lazily, so
 * every operation is O(1) amortized.
 */
export class EngineRecord {
  lifecycle: Lifecycle = "alive";
  heartbeatIdentity?: Buffer[];
  lastHeartbeat: number;
  cpu = 0;
  rss = 0;
  completed = 0;
  failed = 0;
  /**
   * The controller's model of this engine's function cache: same class and capacity as the engine's,
   * touched in the order tasks are sent, so a hash it holds is one the engine still holds.
   */
  knownFunctions = new ByteLru<true>(DEFAULT_LIMITS.functionCacheBytes);
  /** Order of the last load-balanced assignment, for lru and tie-breaking. */
  lastAssigned = 0;
  /** Signals asked for before the engine's first heartbeat told where to send them. */
  readonly pendingSignals: ("SIGINT" | "SIGTERM" | "SIGKILL")[] = [];
  /** Set while a stop was requested and the engine has not unregistered yet. */
  stopTimer?: NodeJS.Timeout;
  /** How the engine was launched (launcher, host, MPI rank), as it told at registration. */
  metadata?: EngineMetadata;
  /** The process's start time, when it runs in the controller's pid space (so /proc can say it has gone). */
  localStartTime?: number;
  /** The engine's direct socket, as it told at registration: clients send DirectView work there. */
  direct?: DirectAddress;
  /** It has reported direct tasks: queries ask it to report again before they answer (see DirectBarrier). */
  directUsed = false;
  readonly #outstanding = new Set<TaskRecord>();
  readonly #order = new Deque<TaskRecord>();
  #head?: TaskRecord;
  #headSince = 0;

  constructor(
    readonly id: number,
    readonly uuid: string,
    readonly hostname: string,
    readonly pid: number,
    public identity: Buffer[],
    readonly registered: number,
  ) {
    this.lastHeartbeat = registered;
  }

  /** Alive again after it was declared dead or stopped: it registered anew from the same process. */
  rejoin(now: number): void {
    this.lifecycle = "alive";
    this.lastHeartbeat = now;
    this.pendingSignals.length = 0;
  }

  get alive(): boolean {
    return this.lifecycle === "alive";
  }

  get state(): EngineState {
    if (this.lifecycle !== "alive") return this.lifecycle;
    return this.#outstanding.size > 0 ? "busy" : "idle";
  }

  get outstanding(): number {
    return this.#outstanding.size;
  }

  holds(record: TaskRecord): boolean {
    return this.#outstanding.has(record);
  }

  assign(record: TaskRecord, now: number): void {
    this.#outstanding.add(record);
    this.#order.push(record);
    this.#refreshHead(now);
  }

  /** Removes a task the engine no longer holds; false if it did not hold it. */
  release(record: TaskRecord, now: number): boolean {
    if (!this.#outstanding.delete(record)) return false;
    this.#refreshHead(now);
    return true;
  }

  /** The task running now (the head of its queue) and since when it has been the head. */
  current(): { record: TaskRecord; since: number } | undefined {
    return this.#head ? { record: this.#head, since: this.#headSince } : undefined;
  }

  /** Tasks held, in queue order. */
  held(): TaskRecord[] {
    return [...this.#order].filter((r) => this.#outstanding.has(r));
  }

  /** Forgets every held task (the engine is gone) and returns them in queue order. */
  releaseAll(): TaskRecord[] {
    const held = this.held();
    this.#outstanding.clear();
    while (this.#order.length) this.#order.shift();
    this.#head = undefined;
    return held;
  }

  info(): EngineInfo {
    const info: EngineInfo = { id: this.id, uuid: this.uuid, hostname: this.hostname, pid: this.pid, state: this.state, registered: this.registered };
    if (this.metadata) info.metadata = this.metadata;
    if (this.direct) info.direct = this.direct;
    return info;
  }

  #refreshHead(now: number): void {
    while (this.#order.length && !this.#outstanding.has(this.#order.peek()!)) this.#order.shift();
    const head = this.#order.peek();
    if (head !== this.#head) {
      this.#head = head;
      this.#headSince = now;
    }
  }
}
