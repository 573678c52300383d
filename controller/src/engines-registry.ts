import { identityKey } from "./identity.js";
import { EngineRecord } from "./engine-record.js";

/** All engines ever registered. Ids are 0, 1, 2... in registration order and never reused. */
export class EngineRegistry {
  readonly #byId = new Map<number, EngineRecord>();
  readonly #byIdentity = new Map<string, EngineRecord>();
  readonly #byUuid = new Map<string, EngineRecord>();
  #nextId = 0;
  #alive: EngineRecord[] | undefined;

  /**
   * Registers an engine. A uuid seen before gets its id back: a repeated request from an engine still
   * alive (its reply was lost) changes nothing ("same"); an engine declared dead or stopped that
   * registers again is alive again ("rejoined"). An unknown uuid gets the next id ("new").
   */
  register(uuid: string, hostname: string, pid: number, identity: Buffer[], now: number): { engine: EngineRecord; outcome: "new" | "same" | "rejoined" } {
    const known = this.#byUuid.get(uuid);
    if (known) {
      if (identityKey(known.identity) !== identityKey(identity)) {
        this.#byIdentity.delete(identityKey(known.identity));
        known.identity = identity;
        this.#byIdentity.set(identityKey(identity), known);
      }
      if (known.alive) return { engine: known, outcome: "same" };
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
