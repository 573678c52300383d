import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import type * as zmq from "zeromq";
import { createLogger, type EngineConnectionInfo, type Logger, type Message, type MessageContents, type MessageSender } from "@tsparallel/protocol";
import type { RunningEngine } from "./engine.js";
import { uncaptured } from "./engine-log.js";
import { Heartbeat, controllerTimeoutMs } from "./heartbeat.js";
import type { Interrupter } from "./interrupt.js";
import type { Namespace } from "./namespace.js";
import { OutputCapture } from "./output-capture.js";
import type { Registration } from "./registration.js";
import { ResultBatch } from "./result-batch.js";
import { tasksOf } from "./task-batch.js";
import { TaskHandlers } from "./task-handlers.js";
import { IdleCollector } from "./idle-gc.js";
import { TaskQueue } from "./task-queue.js";
import { TaskRunner } from "./task-runner.js";

/**
 * A registered engine at work: dispatches controller messages, runs the task queue, streams
 * output, keeps the heartbeat thread, and stops once (shutdown, lost controller, closed socket).
 */
export class EngineSession implements RunningEngine {
  readonly id: number;
  readonly exited: Promise<number>;
  readonly capture: OutputCapture;
  readonly #log: Logger;
  readonly #queue: TaskQueue;
  readonly #batch: ResultBatch;
  readonly #interrupter: Interrupter;
  readonly #heartbeat: Heartbeat;
  #stopping: Promise<number> | null = null;
  #settle: (code: number) => void = () => {};
  readonly #onUncaught = (err: unknown): void => {
    // User code that throws from a timer or leaves a rejection unhandled must not kill the engine.
    process.stderr.write(`Uncaught ${inspect(err)}\n`);
  };

  constructor(
    private readonly info: EngineConnectionInfo,
    readonly uuid: string,
    private readonly registration: Registration,
    private readonly socket: zmq.Dealer,
    private readonly sender: MessageSender,
    namespace: Namespace,
    interrupter: Interrupter,
    heartbeat: Heartbeat,
  ) {
    this.#heartbeat = heartbeat;
    this.id = registration.id;
    this.exited = new Promise((resolve) => (this.#settle = resolve));
    this.capture = new OutputCapture(this.id, (items) => sender.send("stream", { items }));
    this.#log = uncaptured(createLogger(`engine ${this.id}`), () => this.capture);
    this.#interrupter = interrupter;
    this.#batch = new ResultBatch((results, frames) => sender.send("task_reply", { results }, { buffers: frames }));
    const runner = new TaskRunner(this.id, new TaskHandlers(namespace), this.capture, this.#interrupter);
    this.#queue = new TaskQueue(runner, this.#batch, new IdleCollector());
  }

  start(messages: AsyncGenerator<Message>): void {
    this.capture.install();
    process.on("uncaughtException", this.#onUncaught);
    process.on("unhandledRejection", this.#onUncaught);
    const heartbeatMs = this.registration.heartbeatMs;
    this.#heartbeat.start(
      { id: this.id, heartbeatMs, controllerTimeoutMs: controllerTimeoutMs(heartbeatMs, this.registration.heartbeatTimeoutMs) },
      (reason) => void this.#stop(1, `the controller is gone (${reason})`, false),
      (err) => void this.#stop(1, `the heartbeat thread failed: ${err.message}`, true),
    );
    this.#log.info(`registered as engine ${this.id} (pid ${process.pid}, heartbeat every ${heartbeatMs} ms)`);
    void this.#listen(messages);
  }

  shutdown(reason = "shutdown requested"): Promise<number> {
    return this.#stop(0, reason, true);
  }

  async #listen(messages: AsyncGenerator<Message>): Promise<void> {
    for await (const msg of messages) {
      if (this.#stopping) break;
      try {
        this.#handle(msg);
      } catch (err) {
        this.#log.error(`failed to handle ${msg.header.msg_type}: ${(err as Error).stack ?? String(err)}`);
      }
    }
    if (!this.#stopping) void this.#stop(1, "the engine socket closed", false);
  }

  #handle(msg: Message): void {
    const type = msg.header.msg_type;
    switch (type) {
      case "task_request":
        try {
          this.#queue.enqueue(tasksOf(msg.content as MessageContents["task_request"], msg.buffers));
        } catch (err) {
          this.#log.warn(`dropped a malformed task_request ${msg.header.msg_id}: ${(err as Error).message}`);
        }
        break;
      case "abort_request": {
        const { msgIds } = msg.content as MessageContents["abort_request"];
        if (msgIds !== undefined && !(Array.isArray(msgIds) && msgIds.every((id) => typeof id === "string"))) {
          this.#log.warn(`dropped a malformed abort_request ${msg.header.msg_id}`);
          break;
        }
        const aborted = this.#queue.abort(msgIds);
        this.#log.debug(`aborted ${aborted.length} queued task(s)`);
        break;
      }
      case "shutdown_request":
        void this.#stop(0, "shutdown requested by the controller", true);
        break;
      default:
        this.#log.debug(`ignored a ${type} message`);
    }
  }

  /** Stops for good. Runs once; later calls get the first call's exit code. */
  #stop(code: number, reason: string, unregister: boolean): Promise<number> {
    this.#stopping ??= (async () => {
      (code === 0 ? this.#log.info : this.#log.error)(`stopping: ${reason}`);
      this.#heartbeat.acknowledge();
      this.#queue.stop();
      this.#batch.flush();
      this.capture.flush();
      if (unregister) this.sender.send("unregistration_request", { reason });
      await Promise.race([this.sender.flushed(), sleep(2000)]);
      await this.#heartbeat.stop();
      this.sender.close();
      this.socket.linger = unregister ? 1000 : 0;
      this.socket.close();
      this.capture.uninstall();
      this.#interrupter.uninstall();
      process.off("uncaughtException", this.#onUncaught);
      process.off("unhandledRejection", this.#onUncaught);
      this.#settle(code);
      return code;
    })();
    return this.#stopping;
  }
}
