import { setTimeout as sleep } from "node:timers/promises";
import { getHeapStatistics } from "node:v8";
import { Worker } from "node:worker_threads";
import type { CurveClientOptions } from "@tsparallel/protocol";
import { interruptState } from "./interrupt.js";

/** What the heartbeat thread is started with (structured-cloned into the worker). */
export interface HeartbeatConfig {
  url: string;
  key: string;
  /** CURVE options of the heartbeat socket (empty when the cluster runs without CURVE). */
  curve: CurveClientOptions;
  uuid: string;
  id: number;
  heartbeatMs: number;
  /** Silence from the controller after which the engine registers again (it may have restarted). */
  rejoinAfterMs: number;
  /** Silence from any controller after which the engine gives up and exits. */
  lostControllerMs: number;
  /** One float: the main thread's heapUsed, which the worker cannot read from its own isolate. */
  heapUsed: SharedArrayBuffer;
  /** interrupt.ts's interruptState: whether a section can take a SIGINT now. */
  interruptState: SharedArrayBuffer;
}

export type HeartbeatEvent =
  /** No controller for lostControllerMs: the engine exits. */
  | { type: "lost"; reason: string }
  /**
   * Register again: the controller said so (`heartbeatTime` is the beat it answered; `declaredDead`:
   * the controller no longer holds this engine's tasks), or it has been silent for rejoinAfterMs.
   */
  | { type: "rejoin"; reason: string; declaredDead: boolean; heartbeatTime?: number }
  /** signal_request SIGINT: for the awaiting task, unless a section took the SIGINT (see deliverInterrupt). */
  | { type: "interrupt"; stoppedBefore: number };

/** What the main thread tells the worker. */
export type HeartbeatCommand = { type: "stopping" } | { type: "stop" } | { type: "registered"; id: number; heartbeatMs: number };

/** Default time without any controller after which an engine exits: 5 minutes. */
export const LOST_CONTROLLER_MS = 300_000;

/**
 * Silence after which an engine registers again: max(10 heartbeats, 10 s, twice the controller's own
 * tolerance), never past giving up. Twice: a controller that is only slow judges the engine alive
 * for that long, so registering sooner would only add work to a loaded controller.
 */
export function rejoinAfterMs(heartbeatMs: number, lostControllerMs: number, controllerToleranceMs = 0): number {
  return Math.min(Math.max(10 * heartbeatMs, 10_000, 2 * controllerToleranceMs), lostControllerMs);
}

/** Main-thread side of the heartbeat: owns the worker and feeds it the main heap size. */
export class Heartbeat {
  #worker: Worker | null = null;
  #heapTimer: NodeJS.Timeout | null = null;

  start(config: Omit<HeartbeatConfig, "heapUsed" | "interruptState">, onEvent: (event: HeartbeatEvent) => void, onFailure: (err: Error) => void): void {
    const heapUsed = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT);
    const heap = new Float64Array(heapUsed);
    const sample = (): void => void (heap[0] = getHeapStatistics().used_heap_size);
    sample();
    this.#heapTimer = setInterval(sample, config.heartbeatMs);
    this.#heapTimer.unref();
    const worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), {
      workerData: { ...config, heapUsed, interruptState: interruptState.buffer as SharedArrayBuffer } satisfies HeartbeatConfig,
      // Its output would otherwise be piped through the main thread's (captured) streams.
      stdout: true,
      stderr: true,
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    });
    worker.on("message", onEvent);
    worker.on("error", onFailure);
    worker.unref();
    this.#worker = worker;
  }

  /** The main thread is stopping on its own: the worker need not force it. */
  acknowledge(): void {
    this.#post({ type: "stopping" });
  }

  /** Registered (again): beats carry this id from now on. */
  registered(id: number, heartbeatMs: number): void {
    this.#post({ type: "registered", id, heartbeatMs });
  }

  #post(command: HeartbeatCommand): void {
    this.#worker?.postMessage(command);
  }

  async stop(): Promise<void> {
    if (this.#heapTimer) clearInterval(this.#heapTimer);
    const worker = this.#worker;
    this.#worker = null;
    if (!worker) return;
    // The worker closes its socket and ends by itself: terminating a thread that holds an open
    // ZeroMQ socket aborts the process.
    const ended = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage({ type: "stop" } satisfies HeartbeatCommand);
    await Promise.race([ended, sleep(1000)]);
  }
}
