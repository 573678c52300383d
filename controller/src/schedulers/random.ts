import type { EngineRecord } from "../engine-record.js";
import type { Scheduler } from "./scheduler.js";

/** Any allowed engine, uniformly. */
export class RandomScheduler implements Scheduler {
  readonly scheme = "random";

  pick(candidates: readonly EngineRecord[]): EngineRecord {
    return candidates[Math.floor(Math.random() * candidates.length)]!;
  }
}
