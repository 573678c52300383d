import type { EngineRecord } from "../engine-record.js";
import { leastRecentlyAssigned, type Scheduler } from "./scheduler.js";

/** The engine with the fewest outstanding tasks. */
export class LeastLoadScheduler implements Scheduler {
  readonly scheme = "leastload";

  pick(candidates: readonly EngineRecord[]): EngineRecord {
    let best = candidates[0]!;
    for (let i = 1; i < candidates.length; i++) {
      const engine = candidates[i]!;
      if (engine.outstanding < best.outstanding) best = engine;
      else if (engine.outstanding === best.outstanding) best = leastRecentlyAssigned(best, engine);
    }
    return best;
  }
}
