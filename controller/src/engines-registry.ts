import { identityKey } from "./identity.js";
import { EngineRecord } from "./engine-record.js";
import type { StoredEngine } from "./store/task-store.js";

/** Dead and stopped engines kept in memory (and so in snapshots) by default; older ones are forgotten. */
export const DEFAULT_KEEP_ENDED_ENGINES = 256;

/**
 * The engines registered: every alive one, and the most recently ended (dead or stopped) ones up to a
 * bound, so that fake or long-gone registrations do not stay in every snapshot. Ids are 0, 1, 2... in
 * registration order and never reused. An engine forgotten here that registers again under its uuid
 * still gets its id when the task store remembers it (`recall`: the SQLite store's engine table).
 */
export class EngineRegistry {
  readonly #byId = new Map<number, EngineRecord>();
  readonly #byIdentity = new Map<string, EngineRecord>();
  readonly #byUuid = new Map<string, EngineRecord>();
  /** Ended engines, the longest ended first. */
  readonly #ended = new Map<number, EngineRecord>();
  #nextId = 0;
  #alive: EngineRecord[] | undefined;
  #forgotten = 0;

  constructor(
    readonly keepEnded = DEFAULT_KEEP_ENDED_ENGINES,
    private readonly recall: (uuid: string) => StoredEngine | undefined = () => undefined,
  ) {}

  /** Whether a registration from this uuid would be a new engine (it counts against the registration rate). */
  isNew(uuid: string): boolean {
    return !this.#byUuid.has(uuid) && this.recall(uuid) === undefined;
  }

  /** Ended records forgotten so far. */
  get forgotten(): number {
    return this.#forgotten;
  }

  /**
   * Registers an engine. A uuid seen before gets its id back: a repeated request from an engine still
   * alive (its reply was lost) changes nothing ("same"); an engine declared dead or stopped that
   * registers again is alive again ("rejoined"). An unknown uuid gets the next id ("new").
   */
  register(uuid: string, hostname: string, pid: number, identity: Buffer[], now: number): { engine: EngineRecord; outcome: "new" | "same" | "rejoined" } {
    const known = this.#byUuid.get(uuid) ?? this.#recalled(uuid);
    if (known) {
      if (identityKey(known.identity) !== identityKey(identity)) {
        this.#byIdentity.delete(identityKey(known.identity));
        known.identity = identity;
        this.#byIdentity.set(identityKey(identity), known);
      }
      if (known.alive) return { engine: known, outcome: "same" };
      this.#ended.delete(known.id);
      known.rejoin(now);
      this.changed();
      return { engine: known, outcome: "rejoined" };
    }
    const engine = new EngineRecord(this.#nextId++, uuid, hostname, pid, identity, now);
    this.#byId.set(engine.id, engine);
    this.#byIdentity.set(identityKey(identity), engine);
    this.#byUuid.set(uuid, engine);
    this.changed();
    return { engine, outcome: "new" };
  }

  /** Call once an engine is dead or stopped: past the bound, the longest-ended record is forgotten. */
  ended(engine: EngineRecord): void {
    this.#ended.delete(engine.id);
    this.#ended.set(engine.id, engine);
    this.changed();
    for (const oldest of this.#ended.values()) {
      if (this.#ended.size <= this.keepEnded) break;
      this.#forget(oldest);
    }
  }

  #forget(engine: EngineRecord): void {
    this.#ended.delete(engine.id);
    if (this.#byId.get(engine.id) === engine) this.#byId.delete(engine.id);
    if (this.#byUuid.get(engine.uuid) === engine) this.#byUuid.delete(engine.uuid);
    const key = identityKey(engine.identity);
    if (this.#byIdentity.get(key) === engine) this.#byIdentity.delete(key);
    this.#forgotten++;
  }

  /** A record for an engine this registry forgot (or never held) but the store knows: dead until it registers. */
  #recalled(uuid: string): EngineRecord | undefined {
    const stored = this.recall(uuid);
    if (!stored || this.#byId.has(stored.id)) return undefined;
    const engine = new EngineRecord(stored.id, stored.uuid, stored.hostname, stored.pid, [], stored.registered);
    engine.lifecycle = "dead";
    this.#byId.set(engine.id, engine);
    this.#byUuid.set(engine.uuid, engine);
    this.#nextId = Math.max(this.#nextId, engine.id + 1);
    return engine;
  }

  byUuid(uuid: string): EngineRecord | undefined {
    return this.#byUuid.get(uuid);
  }

  /**
   * Engines of the run before a restart (from the task store): known by id and uuid, dead until they
   * register again; new engines get ids after theirs.
   */
  restore(engines: readonly { id: number; uuid: string; hostname: string; pid: number; registered: number }[], nextId: number): void {
    for (const e of engines) {
      if (this.#byId.has(e.id)) continue;
      const engine = new EngineRecord(e.id, e.uuid, e.hostname, e.pid, [], e.registered);
      engine.lifecycle = "dead";
      this.#byId.set(e.id, engine);
      this.#byUuid.set(e.uuid, engine);
      this.#nextId = Math.max(this.#nextId, e.id + 1);
      this.ended(engine);
    }
    this.#nextId = Math.max(this.#nextId, nextId);
    this.changed();
  }

  /** The id the next new engine gets. */
  get nextId(): number {
    return this.#nextId;
  }

  byId(id: number): EngineRecord | undefined {
    return this.#byId.get(id);
  }

  byIdentity(identities: readonly Buffer[]): EngineRecord | undefined {
    return this.#byIdentity.get(identityKey(identities));
  }

  all(): IterableIterator<EngineRecord> {
    return this.#byId.values();
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Alive engines in id order; cached, since the scheduler asks for every task. */
  alive(): readonly EngineRecord[] {
    this.#alive ??= [...this.#byId.values()].filter((e) => e.alive);
    return this.#alive;
  }

  /** Call after any engine's lifecycle changes. */
  changed(): void {
    this.#alive = undefined;
  }
}
