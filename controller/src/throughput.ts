/** Completed tasks per second over a sliding window of samples. */
export class Throughput {
  readonly #samples: { time: number; count: number }[] = [];

  constructor(private readonly windowMs = 2000) {}

  sample(count: number, time = Date.now()): void {
    this.#samples.push({ time, count });
    while (this.#samples.length > 2 && time - this.#samples[1]!.time >= this.windowMs) this.#samples.shift();
  }

  perSecond(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.time <= first.time) return 0;
    return ((last.count - first.count) * 1000) / (last.time - first.time);
  }
}
