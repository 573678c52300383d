import type { EngineRecord } from "./engine-record.js";

/** How long a query waits for engines to report their direct tasks: an engine whose loop is held by user code answers late. */
export const DIRECT_BARRIER_MS = 1000;

/**
 * Engines report the direct tasks clients send them after the fact (direct_report, batched). Before
 * the controller answers a query that may name such tasks (result_request, history, db_query), it asks
 * the engines concerned to report now (report_request) and waits for their answers, up to
 * DIRECT_BARRIER_MS: so a client that has a direct task's result finds it in the records at once, as it
 * would a routed task's. Engines whose loop is free answer within a round trip.
 */
export class DirectBarrier {
  #next = 1;
  readonly #waiting = new Map<number, { left: Set<number>; done: () => void }>();

  constructor(private readonly ask: (engine: EngineRecord, token: number) => void) {}

  async wait(engines: readonly EngineRecord[], timeoutMs = DIRECT_BARRIER_MS): Promise<void> {
    if (engines.length === 0) return;
    const token = this.#next++;
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<void>((resolve) => this.#waiting.set(token, { left: new Set(engines.map((e) => e.id)), done: resolve }));
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    for (const engine of engines) this.ask(engine, token);
    try {
      await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(token);
    }
  }

  /** An engine's report that answers `token` has been handled. */
  answered(engineId: number, token: unknown): void {
    if (typeof token !== "number") return;
    const waiting = this.#waiting.get(token);
    if (!waiting) return;
    waiting.left.delete(engineId);
    if (waiting.left.size === 0) waiting.done();
  }
}
