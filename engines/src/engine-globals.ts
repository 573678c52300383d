import type { EngineMetadata } from "@tsparallel/protocol";

/** What user code sees as `tspengine`: this engine's id and launch metadata (`tspengine.rank` under MPI). */
export interface EngineGlobal {
  readonly id: number;
  readonly rank?: number;
  readonly size?: number;
  readonly metadata: Readonly<EngineMetadata>;
}

/**
 * Defined before the namespace remembers its builtins, so `clear` keeps it; read-only, so a task cannot
 * change what the controller was told.
 */
export function defineEngineGlobal(engineId: () => number, metadata: EngineMetadata): void {
  const frozen = Object.freeze({ ...metadata });
  const value: EngineGlobal = Object.freeze({
    get id() {
      return engineId();
    },
    rank: typeof frozen.rank === "number" ? frozen.rank : undefined,
    size: typeof frozen.size === "number" ? frozen.size : undefined,
    metadata: frozen,
  });
  Object.defineProperty(globalThis, "tspengine", { value, enumerable: false, writable: false, configurable: false });
}
