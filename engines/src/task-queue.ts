import type { EngineTask } from "@tsparallel/protocol";
import { callInterruptibly } from "./interrupt.js";
import { BATCH_WINDOW_MS, now, type FinishedTask, type ResultBatch } from "./result-batch.js";
import { isThenable } from "./task-handlers.js";

export interface QueuedTask {
  task: EngineTask;
  frames: Buffer[];
  /** Sent by a client on the direct socket (not by the controller). */
  direct?: boolean;
}

export interface TaskQueueRunner {
  run(item: QueuedTask): FinishedTask | Promise<FinishedTask>;
  /** The result of the task that was running synchronously when this error stopped it. */
  cutShort(error: unknown): FinishedTask | null;
  aborted(task: EngineTask): FinishedTask;
}

/** Lets ZeroMQ's poll phase run: one setImmediate can run before it, the second runs after it. */
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/**
 * Runs tasks one at a time in arrival order.
 *
 * Synchronous tasks run back to back inside one SIGINT-breakable section (entering one costs tens
 * of microseconds, far more than a tiny task) for up to BATCH_WINDOW_MS. Between sections the
 * queue returns to the event loop, so an abort or new batch that arrived meanwhile is seen before
 * the next task starts and finished results go out. A task that awaits ends its section and is
 * awaited outside.
 */
export class TaskQueue {
  #items: QueuedTask[] = [];
  #head = 0;
  #running = false;
  #stopped = false;

  constructor(
    private readonly runner: TaskQueueRunner,
    private readonly batch: ResultBatch,
    /** Told when the queue starts running and when it runs dry. */
    private readonly activity: { busy(): void; idle(): void } = { busy() {}, idle() {} },
  ) {}

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Running a task now, or holding some: a task enqueued now waits. */
  get busy(): boolean {
    return this.#running || this.length > 0;
  }

  enqueue(items: QueuedTask[]): void {
    if (this.#stopped) return;
    // Indexed, not for-of: a fresh engine runs this interpreted, where for-of makes an iterator and a result object per item.
    for (let i = 0; i < items.length; i++) this.#items.push(items[i]!);
    if (!this.#running) void this.#drain();
  }

  /** Answers queued tasks (all of them when msgIds is absent) as aborted; a running task goes on. */
  abort(msgIds?: readonly string[]): string[] {
    const wanted = msgIds ? new Set(msgIds) : null;
    const kept: QueuedTask[] = [];
    const done: string[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (wanted && !wanted.has(item.task.msgId)) kept.push(item);
      else {
        this.batch.add(this.runner.aborted(item.task));
        done.push(item.task.msgId);
      }
    }
    this.#items = kept;
    this.#head = 0;
    if (done.length) this.batch.flush();
    return done;
  }

  /** Runs nothing more. */
  stop(): void {
    this.#stopped = true;
    this.#items = [];
    this.#head = 0;
  }

  #next(): QueuedTask | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as unknown as QueuedTask;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  #complete(finished: FinishedTask): void {
    this.batch.add(finished);
    // The result's completion time is now, for the window: no second clock read per task.
    if (this.length === 0 || this.batch.ageAt(finished.result.completed) >= BATCH_WINDOW_MS) this.batch.flush();
    else this.batch.hold();
  }

  /** Runs synchronous tasks until the window closes; returns the first task that went async. */
  #runSection(since: number): Promise<FinishedTask> | null {
    try {
      return callInterruptibly(() => {
        for (let item = this.#next(); item && !this.#stopped; item = this.#next()) {
          const finished = this.runner.run(item);
          if (isThenable(finished)) return finished;
          this.#complete(finished);
          if (finished.result.completed - since >= BATCH_WINDOW_MS) break;
        }
        return null;
      });
    } catch (err) {
      // SIGINT (or an engine bug) stopped the task that was running; the ones after it stay queued.
      const cut = this.runner.cutShort(err);
      if (cut) this.#complete(cut);
      return null;
    }
  }

  async #drain(): Promise<void> {
    this.#running = true;
    this.activity.busy();
    let lastYield = now();
    try {
      while (this.length > 0 && !this.#stopped) {
        if (now() - lastYield >= BATCH_WINDOW_MS) {
          if (this.batch.age >= BATCH_WINDOW_MS) this.batch.flush();
          await yieldToIo();
          lastYield = now();
          continue;
        }
        const pending = this.#runSection(lastYield);
        if (!pending) continue;
        const finished = await pending;
        if (this.#stopped) break;
        this.#complete(finished);
      }
    } finally {
      this.#running = false;
      this.activity.idle();
    }
  }
}
