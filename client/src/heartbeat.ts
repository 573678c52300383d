import { Worker } from "node:worker_threads";
import { createLogger, type CurveClientOptions } from "@tsparallel/protocol";
import type { ClientHeartbeatCommand, ClientHeartbeatConfig } from "./heartbeat-worker.js";

const log = createLogger("client");

/** How long process exit may wait for the heartbeat thread to close its sockets. */
const EXIT_WAIT_MS = 500;

let thread: { worker: Worker; closed: Int32Array } | undefined;

/**
 * The process's one heartbeat thread, started with its first client. A thread that holds an open
 * ZeroMQ socket when the process exits aborts the process; so at exit it is told to close its
 * sockets, and exit waits (briefly) until it has.
 */
function heartbeatThread(): { worker: Worker; closed: Int32Array } {
  if (thread) return thread;
  const closed = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  const worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), {
    workerData: { closed: closed.buffer as SharedArrayBuffer } satisfies ClientHeartbeatConfig,
    stdout: true,
    stderr: true,
  });
  worker.unref();
  worker.on("error", (err) => log.warn(`the client heartbeat thread failed: ${err.message}`));
  process.on("exit", () => {
    worker.postMessage({ type: "exit" } satisfies ClientHeartbeatCommand);
    Atomics.wait(closed, 0, 0, EXIT_WAIT_MS);
  });
  thread = { worker, closed };
  return thread;
}

/** Beats for one client (its session) from the process's heartbeat thread, until stopped. */
export class ClientHeartbeat {
  #stopped = false;

  constructor(
    url: string,
    key: string,
    private readonly session: string,
    curve: CurveClientOptions = {},
  ) {
    heartbeatThread().worker.postMessage({ type: "add", session, url, key, curve } satisfies ClientHeartbeatCommand);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    thread?.worker.postMessage({ type: "remove", session: this.session } satisfies ClientHeartbeatCommand);
  }
}
