/**
 * How many new engines may register per second (a token bucket: `perSecond`, bursts of ten seconds'
 * worth). A key holder registering fake engines by the thousand gets refusals that say when to ask
 * again; a real engine refused this way asks again then, so a big legitimate start is only slower.
 */
export class RegistrationBudget {
  readonly burst: number;
  #tokens: number;
  #at: number;
  refused = 0;

  constructor(
    readonly perSecond: number,
    now = Date.now(),
  ) {
    this.burst = Math.max(1, Math.round(perSecond * 10));
    this.#tokens = this.burst;
    this.#at = now;
  }

  /** 0 when a new engine may register now, otherwise the ms to wait before asking again. */
  take(now = Date.now()): number {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens--;
      return 0;
    }
    this.refused++;
    // Spread the retries: many refused engines should not all come back in the same millisecond.
    return Math.ceil(((1 - this.#tokens) / this.perSecond) * 1000 * (1 + Math.random()));
  }
}
