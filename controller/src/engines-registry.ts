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
