import { identityKey } from "./identity.js";
import { EngineRecord } from "./engine-record.js";

/** All engines ever registered. Ids are 0, 1, 2... in registration order and never reused. */
export class EngineRegistry {
  readonly #byId = new Map<number, EngineRecord>();
  readonly #byIdentity = new Map<string, EngineRecord>();
  #nextId = 0;
  #alive: EngineRecord[] | undefined;

  /**
   * Registers an engine. A repeated request from an engine already alive under the same uuid (its
   * reply was lost) gets the same id back rather than a second registration.
   */
  register(uuid: string, hostname: string, pid: number, identity: Buffer[], now: number): { engine: EngineRecord; isNew: boolean } {
    const known = this.#byIdentity.get(identityKey(identity));
    if (known && known.alive && known.uuid === uuid) return { engine: known, isNew: false };
    const engine = new EngineRecord(this.#nextId++, uuid, hostname, pid, identity, now);
    this.#byId.set(engine.id, engine);
    this.#byIdentity.set(identityKey(identity), engine);
    this.changed();
    return { engine, isNew: true };
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
