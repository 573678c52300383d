/** Timing helpers. Same statistics as bench/python/ipp_bench.py, so the two columns compare like with like. */

export function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError("median of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function timedSamples(action: () => PromiseLike<unknown>, repeats: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await action();
    samples.push(seconds(start));
  }
  return samples;
}

/** Median after a few unmeasured warm-up runs: for round trips, which are short and noisy. */
export async function medianSeconds(action: () => PromiseLike<unknown>, repeats: number, warmup = 5): Promise<number> {
  for (let i = 0; i < warmup; i++) await action();
  return median(await timedSamples(action, repeats));
}

/** Median of a few whole runs, no warm-up: for the big data transfers. */
export async function medianOfRuns(action: () => PromiseLike<unknown>, repeats: number): Promise<{ seconds: number; samples: number[] }> {
  const samples = await timedSamples(action, repeats);
  return { seconds: median(samples), samples };
}

/** Best of a few: only for task throughput, where each ipyparallel run takes ~10 s. */
export async function bestSeconds(action: () => PromiseLike<unknown>, repeats: number): Promise<number> {
  return Math.min(...(await timedSamples(action, repeats)));
}
