import { setTimeout as sleep } from "node:timers/promises";
import { getHeapStatistics } from "node:v8";
import { Worker } from "node:worker_threads";

/** What the heartbeat thread is started with (structured-cloned into the worker). */
export interface HeartbeatConfig {
  url: string;
  key: string;
  uuid: string;
  id: number;
  heartbeatMs: number;
  /** Silence from the controller after which the engine gives up. */
  controllerTimeoutMs: number;
  /** One float: the main thread's heapUsed, which the worker cannot read from its own isolate. */
  heapUsed: SharedArrayBuffer;
}

export type HeartbeatEvent = { type: "lost"; reason: string };

/**
 * How long the controller may stay silent: twice the silence it forgives an engine (it said so in
 * the registration reply), at least 10 heartbeats and 10 s. A controller paused for less than it
 * would tolerate of an engine must find its engines still there.
 */
export function controllerTimeoutMs(heartbeatMs: number, heartbeatTimeoutMs = 0): number {
  return Math.max(2 * heartbeatTimeoutMs, 10 * heartbeatMs, 10_000);
}

/** Main-thread side of the heartbeat: owns the worker and feeds it the main heap size. */
export class Heartbeat {
  #worker: Worker | null = null;
  #heapTimer: NodeJS.Timeout | null = null;

  start(config: Omit<HeartbeatConfig, "heapUsed">, onLost: (reason: string) => void, onFailure: (err: Error) => void): void {
    const heapUsed = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT);
    const heap = new Float64Array(heapUsed);
    const sample = (): void => void (heap[0] = getHeapStatistics().used_heap_size);
    sample();
    this.#heapTimer = setInterval(sample, config.heartbeatMs);
    this.#heapTimer.unref();
    const worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), {
      workerData: { ...config, heapUsed } satisfies HeartbeatConfig,
      // Its output would otherwise be piped through the main thread's (captured) streams.
      stdout: true,
      stderr: true,
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    });
    worker.on("message", (event: HeartbeatEvent) => {
      if (event.type === "lost") onLost(event.reason);
    });
    worker.on("error", onFailure);
    worker.unref();
    this.#worker = worker;
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
