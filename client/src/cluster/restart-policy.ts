/**
 * How often a supervisor restarts one crashing member (the controller, or one engine slot): each
 * restart waits backoffMs doubled per restart already done in the window (capped at maxBackoffMs), and
 * after maxRestarts restarts within windowMs the member is given up on. A process that crashes at once
 * is thus retried a few times over some seconds, never in a tight loop; one that crashes once an hour
 * is restarted all night.
 */
export interface RestartPolicy {
  maxRestarts: number;
  windowMs: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { maxRestarts: 5, windowMs: 10 * 60_000, backoffMs: 500, maxBackoffMs: 30_000 };

export function restartPolicy(partial: Partial<RestartPolicy> = {}): RestartPolicy {
  const policy = { ...DEFAULT_RESTART_POLICY, ...partial };
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isFinite(value) || value < 0 || (name === "maxRestarts" && !Number.isInteger(value))) {
      throw new RangeError(`restart policy: ${name} must be a non-negative ${name === "maxRestarts" ? "integer" : "number"}, got ${value}`);
    }
  }
  return policy;
}

/** The restarts of one member; holds at most maxRestarts times. */
export class RestartBudget {
  readonly #policy: RestartPolicy;
  #times: number[] = [];

  constructor(policy: RestartPolicy) {
    this.#policy = policy;
  }

  /** Restarts counted in the current window. */
  get recent(): number {
    return this.#times.length;
  }

  /** Takes one restart: the delay to wait before it, or undefined when the budget is spent (give up). */
  take(now = Date.now()): number | undefined {
    this.#times = this.#times.filter((t) => now - t < this.#policy.windowMs);
    if (this.#times.length >= this.#policy.maxRestarts) return undefined;
    const delay = Math.min(this.#policy.backoffMs * 2 ** this.#times.length, this.#policy.maxBackoffMs);
    this.#times.push(now);
    return delay;
  }
}
