import { Worker } from "node:worker_threads";
import { createLogger } from "@tsparallel/protocol";
import type { ClientHeartbeatConfig } from "./heartbeat-worker.js";

const log = createLogger("client");

/** How long process exit may wait for a heartbeat thread to close its socket. */
const EXIT_WAIT_MS = 500;

/** Heartbeat threads whose socket may still be open. */
const open = new Set<ClientHeartbeat>();
let exitHookInstalled = false;

/**
 * A thread that holds an open ZeroMQ socket when the process exits aborts the process; so on exit,
 * each thread still open is told to close its socket, and exit waits (briefly) until it has.
 */
function closeAllOnExit(): void {
  for (const heartbeat of open) heartbeat.closeNow();
}

/** The main-thread side of a client's heartbeat thread (see heartbeat-worker.ts). */
export class ClientHeartbeat {
  readonly #worker: Worker;
  readonly #closed = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  #stopped = false;

  constructor(url: string, key: string, session: string) {
    this.#worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), {
      workerData: { url, key, session, closed: this.#closed.buffer as SharedArrayBuffer } satisfies ClientHeartbeatConfig,
      stdout: true,
      stderr: true,
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    });
    this.#worker.unref();
    this.#worker.on("error", (err) => log.warn(`the client heartbeat thread failed: ${err.message}`));
    this.#worker.once("exit", () => open.delete(this));
    open.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on("exit", closeAllOnExit);
    }
  }

  /** Stops beating; the thread closes its socket and ends by itself. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.postMessage({ type: "stop" });
  }

  /** At process exit: stops and blocks until the thread's socket is closed (or EXIT_WAIT_MS passed). */
  closeNow(): void {
    this.stop();
    Atomics.wait(this.#closed, 0, 0, EXIT_WAIT_MS);
  }
}
