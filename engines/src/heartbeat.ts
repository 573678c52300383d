import { setTimeout as sleep } from "node:timers/promises";
import { getHeapStatistics } from "node:v8";
import { Worker } from "node:worker_threads";

/** What the heartbeat thread is started with (structured-cloned into the worker). */
export interface HeartbeatConfig {
  url: string;
  key: string;
  uuid: string;
  /** One float: the main thread's heapUsed, which the worker cannot read from its own isolate. */
  heapUsed: SharedArrayBuffer;
}

/** What the thread learns once the engine is registered; it beats only from then on. */
export interface HeartbeatStart {
  type: "start";
  id: number;
  heartbeatMs: number;
  /** Silence from the controller after which the engine gives up. */
  controllerTimeoutMs: number;
}

export type HeartbeatEvent = { type: "lost"; reason: string } | { type: "ready" };

/**
 * How long the controller may stay silent: twice the silence it forgives an engine (it said so in
 * the registration reply), at least 10 heartbeats and 10 s. A controller paused for less than it
 * would tolerate of an engine must find its engines still there.
 */
export function controllerTimeoutMs(heartbeatMs: number, heartbeatTimeoutMs = 0): number {
  return Math.max(2 * heartbeatTimeoutMs, 10 * heartbeatMs, 10_000);
}

/**
 * Main-thread side of the heartbeat: owns the worker and feeds it the main heap size. The thread is
 * made before the engine registers (prepare) and told its id after (start): with 64 engines starting
 * on 2 cores a new thread took up to 23 s to load, and the controller waits for a first beat.
 */
export class Heartbeat {
  #worker: Worker | null = null;
  #heapTimer: NodeJS.Timeout | null = null;
  #onLost: (reason: string) => void = () => {};
  #onFailure: (err: Error) => void = () => {};
  #heap: Float64Array | null = null;

  /** Starts the thread and connects its socket; resolves once it is ready to beat. */
  prepare(config: Omit<HeartbeatConfig, "heapUsed">): Promise<void> {
    const heapUsed = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT);
    this.#heap = new Float64Array(heapUsed);
    this.#heap[0] = getHeapStatistics().used_heap_size;
    const worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), {
      workerData: { ...config, heapUsed } satisfies HeartbeatConfig,
      // Its output would otherwise be piped through the main thread's (captured) streams.
      stdout: true,
      stderr: true,
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    });
    this.#worker = worker;
    worker.unref();
    return new Promise((resolve, reject) => {
      worker.once("error", reject);
      worker.on("message", (event: HeartbeatEvent) => {
        if (event.type === "ready") {
          worker.off("error", reject);
          worker.on("error", (err) => this.#onFailure(err));
          resolve();
        } else if (event.type === "lost") this.#onLost(event.reason);
      });
    });
  }

  /** Beats from now on, as engine `id`. */
  start(config: Omit<HeartbeatStart, "type">, onLost: (reason: string) => void, onFailure: (err: Error) => void): void {
    this.#onLost = onLost;
    this.#onFailure = onFailure;
    const heap = this.#heap!;
    const sample = (): void => void (heap[0] = getHeapStatistics().used_heap_size);
    this.#heapTimer = setInterval(sample, config.heartbeatMs);
    this.#heapTimer.unref();
    this.#worker?.postMessage({ type: "start", ...config } satisfies HeartbeatStart);
  }

  /** The main thread is stopping on its own: the worker need not force it. */
  acknowledge(): void {
    this.#worker?.postMessage({ type: "stopping" });
  }

  async stop(): Promise<void> {
    if (this.#heapTimer) clearInterval(this.#heapTimer);
    const worker = this.#worker;
    this.#worker = null;
    if (!worker) return;
    // The worker closes its socket and ends by itself: terminating a thread that holds an open
    // ZeroMQ socket aborts the process.
    const ended = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage({ type: "stop" });
    await Promise.race([ended, sleep(1000)]);
  }
}
