import type { EngineRecord } from "../engine-record.js";

export const SCHEMES = ["leastload", "lru", "random", "weighted"] as const;
export type SchemeName = (typeof SCHEMES)[number];

/**
 * Picks the engine for one load-balanced task. The caller has already narrowed `candidates` to the
 * engines allowed to take it (alive, in the task's targets, below hwm, not excluded by a retry), and
 * never passes an empty list.
 */
export interface Scheduler {
  readonly scheme: SchemeName;
  pick(candidates: readonly EngineRecord[]): EngineRecord;
}

/** Among engines with equal standing, the one assigned longest ago wins, so ties spread the load. */
export function leastRecentlyAssigned(a: EngineRecord, b: EngineRecord): EngineRecord {
  return b.lastAssigned < a.lastAssigned ? b : a;
}
