import type { EngineRecord } from "../engine-record.js";
import { leastRecentlyAssigned, type Scheduler } from "./scheduler.js";

/** The engine assigned a task least recently: a round robin that skips full engines. */
export class LruScheduler implements Scheduler {
  readonly scheme = "lru";

  pick(candidates: readonly EngineRecord[]): EngineRecord {
    return candidates.reduce(leastRecentlyAssigned);
  }
}
