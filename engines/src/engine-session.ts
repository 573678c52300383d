import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import type * as zmq from "zeromq";
import { createLogger, curveClientOptions, url, type DirectAddress, type EngineConnectionInfo, type EngineMetadata, type Logger, type Message, type MessageContents, type MessageSender } from "@tsparallel/protocol";
import { DirectRoutes } from "./direct-routes.js";
import { serveDirect } from "./direct-requests.js";
import type { DirectSocket } from "./direct-socket.js";
import type { RunningEngine } from "./engine.js";
import { uncaptured } from "./engine-log.js";
import { Heartbeat, rejoinAfterMs, type HeartbeatEvent } from "./heartbeat.js";
import type { Interrupter } from "./interrupt.js";
import type { Namespace } from "./namespace.js";
import { OutputCapture } from "./output-capture.js";
import { registrationOf, registrationRequest, type Registration, type RegistrationError } from "./registration.js";
import { ResultBatch } from "./result-batch.js";
import { tasksOf } from "./task-batch.js";
import { TaskHandlers } from "./task-handlers.js";
import { IdleCollector } from "./idle-gc.js";
import { TaskQueue } from "./task-queue.js";
import { TaskRunner } from "./task-runner.js";

/** What a session needs to know about the engine process beyond its sockets. */
export interface SessionIdentity {
  readonly uuid: string;
  readonly version: string;
  /** The engine id, read by the namespace (for its errors) and updated when the controller gives a new one. */
  id: number;
  /** How long without any controller before the engine exits. */
  readonly lostControllerMs: number;
  /** Launch metadata (launcher, host, MPI rank...), told again with every registration. */
  readonly metadata?: EngineMetadata;
  /** The direct socket's address, told again with every registration. */
  direct?: DirectAddress;
}

/** The answer of an engine without a direct socket to a report_request: nothing to report. */
const emptyReports = (sender: MessageSender) => ({ flush: (token?: number) => sender.send("direct_report", { accepted: [], results: [], flushed: token }) });

/** Waits between registration attempts while rejoining: doubling from the first, up to the last. */
const REJOIN_FIRST_WAIT_MS = 500;
const REJOIN_MAX_WAIT_MS = 10_000;

/**
 * A registered engine at work: dispatches controller messages, runs the task queue, streams output,
 * keeps the heartbeat thread, registers again whenever the controller lost it (its namespace stays),
 * and stops once (shutdown, no controller for lostControllerMs, closed socket).
 */
export class EngineSession implements RunningEngine {
  readonly exited: Promise<number>;
  readonly capture: OutputCapture;
  #log: Logger;
  readonly #queue: TaskQueue;
  readonly #handlers: TaskHandlers;
  readonly #batch: ResultBatch;
  readonly #interrupter: Interrupter;
  readonly #routes: DirectRoutes | undefined;
  readonly #heartbeat = new Heartbeat();
  #stopping: Promise<number> | null = null;
  #settle: (code: number) => void = () => {};
  /** When the last registration was granted (epoch ms): older requests to register again are stale. */
  #registeredAt = Date.now();
  #rejoining = false;
  #onRegistrationReply: ((reply: MessageContents["registration_reply"]) => void) | null = null;
  readonly #onUncaught = (err: unknown): void => {
    // User code that throws from a timer or leaves a rejection unhandled must not kill the engine.
    process.stderr.write(`Uncaught ${inspect(err)}\n`);
  };

  constructor(
    private readonly info: EngineConnectionInfo,
    private readonly identity: SessionIdentity,
    private readonly registration: Registration,
    private readonly socket: zmq.Dealer,
    private readonly sender: MessageSender,
    namespace: Namespace,
    interrupter: Interrupter,
    private readonly direct?: DirectSocket,
  ) {
    identity.id = registration.id;
    this.exited = new Promise((resolve) => (this.#settle = resolve));
    const routes = (this.#routes = direct && new DirectRoutes((content, frames) => sender.send("direct_report", content, { buffers: frames })));
    this.capture = new OutputCapture(() => this.id, (items) => {
      routes?.streams(items);
      sender.send("stream", { items });
    });
    this.#log = this.#logger();
    this.#interrupter = interrupter;
    this.#batch = new ResultBatch((results, frames) => {
      // Results of direct tasks go to their clients here; the rest to the controller.
      if (routes) ({ results, frames } = routes.results(results, frames));
      if (results.length) sender.send("task_reply", { results }, { buffers: frames });
    });
    this.#handlers = new TaskHandlers(namespace);
    const runner = new TaskRunner(() => this.id, this.#handlers, this.capture, this.#interrupter);
    this.#queue = new TaskQueue(runner, this.#batch, new IdleCollector());
  }

  get id(): number {
    return this.identity.id;
  }

  get uuid(): string {
    return this.identity.uuid;
  }

  start(messages: AsyncGenerator<Message>): void {
    this.capture.install();
    process.on("uncaughtException", this.#onUncaught);
    process.on("unhandledRejection", this.#onUncaught);
    const { heartbeatMs } = this.registration;
    const { lostControllerMs } = this.identity;
    this.#heartbeat.start(
      {
        url: url(this.info, this.info.ports.heartbeat),
        key: this.info.key,
        curve: curveClientOptions(this.info),
        uuid: this.uuid,
        id: this.id,
        heartbeatMs,
        rejoinAfterMs: rejoinAfterMs(heartbeatMs, lostControllerMs, this.registration.heartbeatTimeoutMs),
        lostControllerMs,
      },
      (event) => this.#onHeartbeatEvent(event),
      (err) => void this.#stop(1, `the heartbeat thread failed: ${err.message}`, true),
    );
    this.#log.info(`registered as engine ${this.id} (pid ${process.pid}, heartbeat every ${heartbeatMs} ms${this.direct ? `, direct socket ${this.direct.address.url}` : ""})`);
    void this.#listen(messages);
    if (this.direct) {
      void serveDirect(this.direct, this.#routes!, {
        uuid: this.uuid,
        id: () => this.id,
        busy: () => this.#queue.busy,
        stopping: () => this.#stopping !== null,
        log: () => this.#log,
        run: (tasks) => {
          this.#handlers.arrived(tasks, true);
          this.#queue.enqueue(tasks);
        },
        abort: (msg) => this.#abort(msg),
      });
    }
  }

  shutdown(reason = "shutdown requested"): Promise<number> {
    return this.#stop(0, reason, true);
  }

  #onHeartbeatEvent(event: HeartbeatEvent): void {
    if (event.type === "lost") void this.#stop(1, `no controller: ${event.reason}`, false);
    else if (event.type === "interrupt") this.#interrupter.requested(event.stoppedBefore);
    else this.#rejoin(event);
  }

  /**
   * Registers again under the same uuid (and the id it had), with backoff, until a controller answers.
   * Declared dead, the engine drops its queued tasks first: the controller has retried or failed them.
   */
  #rejoin(event: Extract<HeartbeatEvent, { type: "rejoin" }>): void {
    if (this.#stopping) return;
    // Answers a beat sent before the last registration was granted: that registration already answered it.
    if (event.heartbeatTime !== undefined && event.heartbeatTime < this.#registeredAt) return;
    if (event.declaredDead) {
      const dropped = this.#queue.abort();
      if (dropped.length) this.#log.info(`dropped ${dropped.length} queued task(s) the controller no longer counts on this engine for`);
    }
    if (this.#rejoining) return;
    this.#rejoining = true;
    this.#log.warn(`registering again: ${event.reason}`);
    void this.#registerAgain().finally(() => (this.#rejoining = false));
  }

  async #registerAgain(): Promise<void> {
    const started = Date.now();
    let wait = REJOIN_FIRST_WAIT_MS;
    let attempts = 0;
    while (!this.#stopping) {
      if (Date.now() - started > this.identity.lostControllerMs) {
        void this.#stop(1, `no registration with any controller for ${Math.round((Date.now() - started) / 1000)} s`, false);
        return;
      }
      attempts++;
      const answered = new Promise<MessageContents["registration_reply"]>((resolve) => (this.#onRegistrationReply = resolve));
      this.sender.send("registration_request", registrationRequest(this.uuid, this.identity.version, this.id, this.identity.metadata, this.identity.direct));
      // Jitter keeps many engines of a restarted controller from registering in lockstep.
      const reply = await Promise.race([answered, sleep(wait * (0.8 + 0.4 * Math.random()))]);
      this.#onRegistrationReply = null;
      if (this.#stopping) return;
      if (reply) {
        try {
          this.#registered(registrationOf(reply), attempts);
          return;
        } catch (err) {
          this.#log.warn(`registering again failed: ${(err as Error).message}`);
          // A refusal answers at once: wait before asking again (as long as it says, or the backoff).
          await sleep((err as RegistrationError).retryAfterMs ?? wait);
        }
      }
      wait = Math.min(wait * 2, REJOIN_MAX_WAIT_MS);
    }
  }

  #registered(registration: Registration, attempts: number): void {
    this.#registeredAt = Date.now();
    const previous = this.id;
    if (registration.id !== previous) {
      this.identity.id = registration.id;
      this.#log = this.#logger();
      this.#log.warn(`registered again as engine ${registration.id} (was ${previous}: the controller did not know this engine); the namespace is kept`);
    } else {
      this.#log.info(`registered again as engine ${registration.id} after ${attempts} attempt(s); the namespace is kept`);
    }
    this.#heartbeat.registered(registration.id, registration.heartbeatMs);
  }

  #logger(): Logger {
    return uncaptured(createLogger(`engine ${this.id}`), () => this.capture);
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

  #abort(msg: Message): void {
    const { msgIds } = msg.content as MessageContents["abort_request"];
    if (msgIds !== undefined && !(Array.isArray(msgIds) && msgIds.every((id) => typeof id === "string"))) {
      this.#log.warn(`dropped a malformed abort_request ${msg.header.msg_id}`);
      return;
    }
    const aborted = this.#queue.abort(msgIds);
    this.#log.debug(`aborted ${aborted.length} queued task(s)`);
  }

  #handle(msg: Message): void {
    const type = msg.header.msg_type;
    switch (type) {
      case "task_request":
        try {
          const tasks = tasksOf(msg.content as MessageContents["task_request"], msg.buffers);
          this.#handlers.arrived(tasks);
          this.#queue.enqueue(tasks);
        } catch (err) {
          this.#log.warn(`dropped a malformed task_request ${msg.header.msg_id}: ${(err as Error).message}`);
        }
        break;
      case "abort_request":
        this.#abort(msg);
        break;
      case "report_request": {
        const { token } = msg.content as Partial<MessageContents["report_request"]>;
        if (Number.isSafeInteger(token)) (this.#routes ?? emptyReports(this.sender)).flush(token);
        break;
      }
      case "registration_reply":
        // Only a rejoin waits for one; a late duplicate (an earlier attempt's) is of no use.
        if (this.#onRegistrationReply) this.#onRegistrationReply(msg.content as MessageContents["registration_reply"]);
        else this.#log.debug("ignored a registration_reply nothing waits for");
        break;
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
      this.#routes?.flush();
      if (unregister) this.sender.send("unregistration_request", { reason });
      await Promise.race([Promise.all([this.sender.flushed(), this.direct?.flushed()]), sleep(2000)]);
      this.direct?.close();
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
