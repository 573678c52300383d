import type { TaskResult } from "@tsparallel/protocol";

/** A result ready to send, with its value frames. */
export interface FinishedTask {
  result: TaskResult;
  frames: Buffer[];
}

/** Results wait at most this long for company before they are sent. */
export const BATCH_WINDOW_MS = 2;

export const now = (): number => performance.timeOrigin + performance.now();

/**
 * Collects results into one task_reply, so thousands of tiny tasks cost few messages. The caller
 * flushes when its queue runs dry (a lone task is never delayed); a timer flushes a batch that has
 * waited BATCH_WINDOW_MS while a task is awaiting something.
 */
export class ResultBatch {
  #results: TaskResult[] = [];
  #frames: Buffer[] = [];
  #openedAt = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly send: (results: TaskResult[], frames: Buffer[]) => void) {}

  get size(): number {
    return this.#results.length;
  }

  /** Milliseconds since the oldest unsent result was added (0 when empty). */
  get age(): number {
    return this.#results.length === 0 ? 0 : now() - this.#openedAt;
  }

  add({ result, frames }: FinishedTask): void {
    if (this.#results.length === 0) {
      this.#openedAt = now();
      this.#timer = setTimeout(() => this.flush(), BATCH_WINDOW_MS);
    }
    result.bufferCount = frames.length;
    this.#results.push(result);
    for (const frame of frames) this.#frames.push(frame);
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#results.length === 0) return;
    const results = this.#results;
    const frames = this.#frames;
    this.#results = [];
    this.#frames = [];
    this.send(results, frames);
  }
}
