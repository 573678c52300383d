import { Worker } from "node:worker_threads";
import { decodeMessage, encodeMessage, MessageError, newHeader, type Logger, type Message, type Signer } from "@tsparallel/protocol";
import type { ControlWorkerCommand, ControlWorkerConfig, ControlWorkerEvent } from "./control-worker.js";
import type { JupyterContents, JupyterMessageType } from "./messages.js";

/** Main-thread side of the control channel, whose sockets live in the control worker thread. */
export class ControlChannel {
  #worker: Worker | null = null;

  constructor(
    private readonly config: ControlWorkerConfig,
    private readonly signer: Signer,
    private readonly log: Logger,
  ) {}

  /** Starts the thread; resolves once its sockets are bound. */
  start(onRequest: (msg: Message) => void): Promise<void> {
    const worker = new Worker(new URL("./control-worker.js", import.meta.url), {
      workerData: this.config,
      // Its output would otherwise pass through the main thread's (captured) streams.
      stdout: true,
      stderr: true,
    });
    this.#worker = worker;
    worker.unref();
    return new Promise((resolve, reject) => {
      worker.on("error", (err) => {
        this.log.error(`control thread failed: ${err.message}`);
        reject(err);
      });
      worker.on("message", (event: ControlWorkerEvent) => {
        if (event.type === "ready") resolve();
        else if (event.type === "failed") reject(new Error(event.message));
        else if (event.type === "request") {
          try {
            onRequest(decodeMessage(this.signer, event.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength))));
          } catch (err) {
            if (err instanceof MessageError) this.log.warn(`dropped a bad control message (${err.message})`);
            else throw err;
          }
        }
      });
    });
  }

  reply<T extends JupyterMessageType>(request: Message, type: T, content: JupyterContents[T]): void {
    const frames = encodeMessage(this.signer, {
      identities: request.identities,
      header: newHeader(type, this.config.session, "kernel"),
      parent_header: request.header,
      content,
    });
    this.#post({ type: "send", frames });
  }

  stop(): void {
    this.#post({ type: "stop" });
  }

  #post(command: ControlWorkerCommand): void {
    this.#worker?.postMessage(command);
  }
}
