/**
 * The CPU-bound workload: count primes below a limit by trial division, in equal ranges. The python
 * side runs the same algorithm; each side's limit is sized so its serial run takes a few seconds
 * (V8 is ~20x faster at this than CPython), since what is compared is the speed-up on 2 engines.
 */
export type Range = [lo: number, hi: number];

/** Self-contained: it is shipped to the engines as source text. */
export function countPrimes([lo, hi]: Range): number {
  let count = 0;
  for (let n = Math.max(lo, 2); n < hi; n++) {
    if (n < 4) {
      count++;
      continue;
    }
    if (n % 2 === 0) continue;
    let prime = true;
    for (let d = 3; d * d <= n; d += 2) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

export function primeChunks(limit: number, chunks: number): Range[] {
  const step = Math.ceil(limit / chunks);
  return Array.from({ length: chunks }, (_, i): Range => [i * step, Math.min(limit, (i + 1) * step)]);
}
