import { LeastLoadScheduler } from "./leastload.js";
import { LruScheduler } from "./lru.js";
import { RandomScheduler } from "./random.js";
import type { Scheduler, SchemeName } from "./scheduler.js";
import { WeightedScheduler } from "./weighted.js";

export { SCHEMES, type Scheduler, type SchemeName } from "./scheduler.js";

export function createScheduler(scheme: SchemeName, hwm: number): Scheduler {
  switch (scheme) {
    case "leastload":
      return new LeastLoadScheduler();
    case "lru":
      return new LruScheduler();
    case "random":
      return new RandomScheduler();
    case "weighted":
      return new WeightedScheduler(hwm);
  }
}
