import { Worker } from "node:worker_threads";
import type { Logger } from "@tsparallel/protocol";
import { ADDED_STRIDE, FINISHED_STRIDE, type AddedRows, type FinishedRows, type FromWriter, type StoreTotals, type ToWriter, type WriteRow } from "./sqlite-schema.js";
import type { WriterData } from "./store-writer.js";
import type { StoreLimits } from "./task-store.js";

/** How long closing waits for the writer to commit what it was sent (a shutdown or the process's exit). */
const CLOSE_WAIT_MS = 10_000;

/**
 * The controller thread's end of the store's writer thread (`store-writer.ts`): posts batches of rows
 * and other writes, hears what was committed, and answers requests that need the writer to have
 * caught up (purge, a barrier before a scan). Started before the controller serves (or by the first write).
 */
export class WriterThread {
  #worker: Worker | undefined;
  readonly #closed = new Int32Array(new SharedArrayBuffer(4));
  #nextId = 0;
  readonly #waiting = new Map<number, { resolve: (reply: Extract<FromWriter, { op: "done" }>) => void }>();
  #broken: string | undefined;

  constructor(
    private readonly location: string,
    private readonly limits: StoreLimits,
    private readonly log: Logger,
    private readonly heard: {
      written(batch: number, totals: StoreTotals): void;
      lost(rows: number, message: string): void;
      totals(totals: StoreTotals): void;
      /** The writer is gone: nothing in flight will be acknowledged. */
      broken(): void;
    },
  ) {}

  get started(): boolean {
    return this.#worker !== undefined;
  }

  /** False when nothing will commit them (the writer failed): they are counted lost, and the controller goes on. */
  write(batch: number, rows: WriteRow[], added: AddedRows, finished: FinishedRows, blobs: ArrayBuffer): boolean {
    if (this.#broken) {
      this.heard.lost(rows.length + added.length / ADDED_STRIDE + finished.length / FINISHED_STRIDE, this.#broken);
      return false;
    }
    this.#post({ op: "write", batch, rows, added, finished, blobs }, [blobs]);
    return true;
  }

  post(message: Exclude<ToWriter, { op: "write" | "purge" | "sync" | "close" }>): void {
    if (!this.#broken) this.#post(message);
  }

  /** Resolves once everything sent before is committed (or failed). */
  request(message: { op: "purge"; msgIds: string[] | "all" } | { op: "sync" }): Promise<Extract<FromWriter, { op: "done" }>> {
    if (this.#broken) return Promise.resolve({ op: "done", id: -1, error: this.#broken, rows: -1, bytes: -1 });
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, { resolve });
      this.#post({ ...message, id });
    });
  }

  /**
   * Waits (blocking this thread, at most CLOSE_WAIT_MS) until the writer has committed all it was
   * sent and closed its connection: a shutdown, or the process's exit, must not lose what was sent.
   */
  close(): void {
    const worker = this.#worker;
    if (!worker || this.#broken) return;
    worker.postMessage({ op: "close" } satisfies ToWriter);
    if (Atomics.wait(this.#closed, 0, 0, CLOSE_WAIT_MS) === "timed-out") this.log.error(`task store: the writer did not finish within ${CLOSE_WAIT_MS} ms; what it had not committed is lost`);
    this.#broken = "the task store is closed";
  }

  /** Starts the thread ahead of the first write (starting it costs the loop tens of ms on a loaded machine). */
  start(): void {
    if (!this.#broken) this.#worker ??= this.#start();
  }

  #post(message: ToWriter, transfer?: ArrayBuffer[]): void {
    (this.#worker ??= this.#start()).postMessage(message, transfer);
  }

  #start(): Worker {
    const workerData: WriterData = { location: this.location, limits: this.limits, closed: this.#closed };
    const worker = new Worker(new URL("./store-writer.js", import.meta.url), { workerData });
    // It must not keep a finished controller alive; close() waits for it when it matters.
    worker.unref();
    worker.on("message", (message: FromWriter) => this.#heard(message));
    worker.on("error", (err) => this.#fail(`the task store's writer failed: ${err.stack ?? err.message}`));
    worker.on("exit", (code) => {
      if (!this.#broken && Atomics.load(this.#closed, 0) === 0) this.#fail(`the task store's writer exited (code ${code})`);
    });
    return worker;
  }

  #heard(message: FromWriter): void {
    switch (message.op) {
      case "written":
        this.heard.written(message.batch, message);
        return;
      case "lost":
        this.heard.lost(message.rows, message.message);
        return;
      case "done": {
        if (!message.error) this.heard.totals(message);
        const waiting = this.#waiting.get(message.id);
        this.#waiting.delete(message.id);
        waiting?.resolve(message);
        return;
      }
      case "log":
        if (message.level === "error") this.log.error(message.text);
        else this.log.debug(message.text);
    }
  }

  #fail(why: string): void {
    if (this.#broken) return;
    this.#broken = why;
    this.log.error(`${why}; task records are no longer written to ${this.location}`);
    for (const [id, { resolve }] of this.#waiting) resolve({ op: "done", id, error: why, rows: -1, bytes: -1 });
    this.#waiting.clear();
    this.heard.broken();
  }
}
