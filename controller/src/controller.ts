import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { MessageSender, receiveMessages, Signer, type ClusterSnapshot, type Logger, type Message } from "@tsparallel/protocol";
import { handleClientMessage } from "./client-requests.js";
import { removeConnectionFiles, writeConnectionFiles } from "./connection-files.js";
import type { ControllerContext } from "./context.js";
import { EngineControl } from "./engine-control.js";
import type { EngineRecord } from "./engine-record.js";
import { handleEngineMessage } from "./engine-requests.js";
import { EngineRegistry } from "./engines-registry.js";
import { EventPublisher } from "./events.js";
import { FunctionCache } from "./function-cache.js";
import { HeartbeatMonitor, type HeartbeatTimings } from "./heartbeat-monitor.js";
import { resolveOptions, type ControllerOptions, type ResolvedOptions } from "./options.js";
import { Outbox } from "./outbox.js";
import { TaskRecords } from "./records/task-records.js";
import { createScheduler } from "./schedulers/index.js";
import { buildSnapshot } from "./snapshot.js";
import { bindSockets, closeSockets, type ControllerSockets, type SocketPorts } from "./sockets.js";
import { TaskRouter } from "./task-router.js";
import { Slice } from "./slice.js";
import { Throughput } from "./throughput.js";

/** How long a hub shutdown waits for stopped engines to unregister. */
const SHUTDOWN_WAIT_MS = 2000;
/** How long closing sockets may take to deliver the last messages (the shutdown reply among them). */
const CLOSE_LINGER_MS = 1000;

export interface RunningController {
  readonly pid: number;
  readonly clientFile: string;
  readonly engineFile: string;
  readonly ports: SocketPorts;
  /** What clients connect to (the client socket). */
  readonly url: string;
  /** Resolves once the controller has shut down, by a client's shutdown_request or by stop(). */
  readonly closed: Promise<void>;
  /** Graceful shutdown: stops every engine, publishes controller_shutdown, closes, removes the files. */
  stop(reason?: string): Promise<void>;
}

class Controller implements ControllerContext {
  readonly registry = new EngineRegistry();
  readonly records: TaskRecords;
  readonly events: EventPublisher;
  readonly router: TaskRouter;
  readonly control: EngineControl;
  readonly engineSender: MessageSender;
  readonly clientSender: MessageSender;
  readonly timings: HeartbeatTimings;
  readonly log: Logger;
  readonly #heartbeat: HeartbeatMonitor;
  readonly #outbox: Outbox;
  readonly #senders: MessageSender[];
  readonly #throughput = new Throughput();
  readonly #controllerInfo: ClusterSnapshot["controller"];
  #stopping?: Promise<void>;
  readonly #shutdownReplies: ((engines: number[]) => void)[] = [];
  #resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));

  constructor(
    private readonly options: ResolvedOptions,
    private readonly sockets: ControllerSockets,
    private readonly signer: Signer,
    private readonly key: string,
    readonly url: string,
    started: string,
  ) {
    this.log = options.logger;
    this.timings = { heartbeatMs: options.heartbeatMs, heartbeatMisses: options.heartbeatMisses, heartbeatTimeoutMs: options.heartbeatTimeoutMs };
    this.#controllerInfo = { url, pid: process.pid, hostname: hostname(), started, scheme: options.scheme, hwm: options.hwm };
    const session = randomUUID();
    const sender = (socket: ControllerSockets[keyof ControllerSockets]) => new MessageSender(socket, signer, session, this.log);
    this.clientSender = sender(sockets.client);
    this.engineSender = sender(sockets.engine);
    const heartbeatSender = sender(sockets.heartbeat);
    const eventSender = sender(sockets.events);
    this.#senders = [this.clientSender, this.engineSender, heartbeatSender, eventSender];
    this.records = new TaskRecords(options.recordLimits);
    this.#outbox = new Outbox(this.engineSender, this.clientSender);
    this.events = new EventPublisher(eventSender, signer, () => this.snapshot(), () => this.#throughput.sample(this.records.counts.done));
    this.router = new TaskRouter(
      this.registry,
      this.records,
      new FunctionCache(),
      this.#outbox,
      this.events,
      createScheduler(options.scheme, options.hwm),
      options.hwm,
      options.lbWindow,
      this.log,
    );
    this.#heartbeat = new HeartbeatMonitor(
      this.registry,
      heartbeatSender,
      this.timings,
      (engine, reason) => {
        this.engineLost(engine, "dead", reason);
        this.#outbox.flush();
      },
      () => this.events.changed(),
      this.log,
    );
    this.control = new EngineControl(this.registry, this.engineSender, this.#heartbeat, this.log);
  }

  run(): void {
    this.events.start(process.pid);
    this.#heartbeat.start();
    void this.#serve(this.sockets.client, (msg) => handleClientMessage(this, msg), new Slice());
    void this.#serve(this.sockets.engine, (msg) => handleEngineMessage(this, msg), new Slice());
    // Heartbeats are cheap and come first: this loop never yields on its own.
    void this.#serve(this.sockets.heartbeat, (msg) => this.#heartbeat.handle(msg));
  }

  snapshot(): ClusterSnapshot {
    return buildSnapshot({
      profile: this.options.profile,
      controller: this.#controllerInfo,
      registry: this.registry,
      records: this.records,
      balancer: this.router.balancer,
      throughput: this.#throughput,
    });
  }

  engineLost(engine: EngineRecord, lifecycle: "dead" | "stopped", reason: string): void {
    if (!engine.alive) return;
    engine.lifecycle = lifecycle;
    this.control.settled(engine);
    this.router.engineLost(engine, lifecycle === "dead" ? "died" : "stopped");
    if (lifecycle === "dead") {
      this.log.warn(`engine ${engine.id} is dead: ${reason}`);
      this.events.publish("engine_dead", { id: engine.id, reason });
    } else {
      this.log.info(`engine ${engine.id} unregistered (${reason})`);
      this.events.publish("engine_unregistered", { id: engine.id });
    }
  }

  shutdownHub(reason: string, targets: number[] | null, reply?: (engines: number[]) => void): Promise<void> {
    if (reply) this.#shutdownReplies.push(reply);
    this.#stopping ??= this.#shutdown(reason, targets);
    return this.#stopping;
  }

  async #shutdown(reason: string, targets: number[] | null): Promise<void> {
    this.log.info(`shutting down: ${reason}`);
    const { engines } = this.control.resolve(targets);
    this.control.stop(engines);
    this.events.publish("controller_shutdown", { reason });
    const deadline = Date.now() + SHUTDOWN_WAIT_MS;
    while (engines.some((e) => e.alive) && Date.now() < deadline) await sleep(20);
    this.control.terminateStragglers(engines);
    for (const reply of this.#shutdownReplies) reply(engines.map((e) => e.id));
    this.events.stop();
    this.#heartbeat.stop();
    await Promise.race([Promise.all(this.#senders.map((s) => s.flushed())), sleep(CLOSE_LINGER_MS)]);
    for (const s of this.#senders) s.close();
    closeSockets(this.sockets, CLOSE_LINGER_MS);
    removeConnectionFiles(this.options, process.pid, this.key, this.log);
    this.log.info("controller stopped");
    this.#resolveClosed();
  }

  /**
   * One receive loop; everything a message produced leaves in one batch per destination. A handler
   * may work in slices (it returns a promise); the next message of this socket waits for it, so a
   * client's requests are still handled in order. A backlog of messages is read SLICE_MS at a time:
   * ZeroMQ hands queued messages over without a turn of the event loop, which would otherwise starve
   * the timers and the heartbeat socket for as long as the backlog lasts.
   */
  async #serve(socket: AsyncIterable<Buffer[]>, handle: (msg: Message) => void | Promise<void>, slice?: Slice): Promise<void> {
    for await (const msg of receiveMessages(socket, this.signer, this.log)) {
      try {
        const working = handle(msg);
        if (working) await working;
      } catch (err) {
        this.log.error(`handling ${msg.header.msg_type} failed: ${(err as Error).stack ?? String(err)}`);
      }
      this.#outbox.flush();
      if (slice?.dueNow()) await slice.yield();
    }
  }
}

/** Binds the sockets, writes the connection files and starts serving. */
export async function startController(options: ControllerOptions = {}): Promise<RunningController> {
  const resolved = resolveOptions(options);
  const { sockets, ports } = await bindSockets(resolved.ip);
  const key = randomBytes(32).toString("hex");
  const started = new Date().toISOString();
  const url = `tcp://${resolved.location}:${ports.client}`;
  const controller = new Controller(resolved, sockets, new Signer(key), key, url, started);
  try {
    writeConnectionFiles(
      resolved,
      { ip: resolved.ip, location: resolved.location, key, profile: resolved.profile, controller: { pid: process.pid, hostname: hostname(), started } },
      ports,
    );
  } catch (err) {
    closeSockets(sockets, 0);
    throw err;
  }
  // Should the process end without a graceful shutdown (a crash, process.exit), the files still go.
  const removeFiles = () => removeConnectionFiles(resolved, process.pid, key, resolved.logger);
  process.once("exit", removeFiles);
  void controller.closed.then(() => process.off("exit", removeFiles));
  controller.run();
  resolved.logger.info(`controller ${process.pid} serving clients on ${url} (scheme ${resolved.scheme}, hwm ${resolved.hwm})`);
  return {
    pid: process.pid,
    clientFile: resolved.clientFile,
    engineFile: resolved.engineFile,
    ports,
    url,
    closed: controller.closed,
    stop: (reason = "stop requested") => controller.shutdownHub(reason, null),
  };
}
