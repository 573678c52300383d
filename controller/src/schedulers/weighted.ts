import type { EngineRecord } from "../engine-record.js";
import type { Scheduler } from "./scheduler.js";

/**
 * Random, weighted by free capacity: hwm minus outstanding, or 1/(1 + outstanding) when hwm is
 * unlimited, so idle engines are likelier but busy ones still get some work.
 */
export class WeightedScheduler implements Scheduler {
  readonly scheme = "weighted";

  constructor(private readonly hwm: number) {}

  pick(candidates: readonly EngineRecord[]): EngineRecord {
    const weights = candidates.map((e) => (this.hwm > 0 ? Math.max(this.hwm - e.outstanding, 0) : 1 / (1 + e.outstanding)));
    const total = weights.reduce((a, b) => a + b, 0);
    let draw = Math.random() * total;
    for (let i = 0; i < candidates.length; i++) {
      draw -= weights[i]!;
      if (draw < 0) return candidates[i]!;
    }
    return candidates[candidates.length - 1]!;
  }
}
