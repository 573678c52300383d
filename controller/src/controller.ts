import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { MessageSender, messageLimits, newCurveKeys, RateLimitedWarnings, receiveMessages, ReplayGuard, Signer, type ClusterSnapshot, type Logger, type Message, type MessageLimits } from "@tsparallel/protocol";
import type * as zmq from "zeromq";
import { ClientLiveness } from "./client-liveness.js";
import { ConnectionCaps, fitToOpenFiles } from "./connection-caps.js";
import { ConnectionWatch, raiseOpenFileLimit } from "./connection-watch.js";
import { handleClientMessage } from "./client-requests.js";
import { previousConnection, removeConnectionFiles, writeConnectionFiles } from "./connection-files.js";
import type { ControllerContext } from "./context.js";
import { EngineControl } from "./engine-control.js";
import type { EngineRecord } from "./engine-record.js";
import { handleEngineMessage } from "./engine-requests.js";
import { EngineRegistry } from "./engines-registry.js";
import { RegistrationBudget } from "./registration-budget.js";
import { EventPublisher } from "./events.js";
import { EventSubscribers } from "./event-subscribers.js";
import { FunctionCache } from "./function-cache.js";
import { HeartbeatMonitor, type HeartbeatTimings } from "./heartbeat-monitor.js";
import { resolveOptions, type ControllerOptions, type ResolvedOptions } from "./options.js";
import { Outbox } from "./outbox.js";
import { TaskRecords } from "./records/task-records.js";
import { createScheduler } from "./schedulers/index.js";
import { buildSnapshot } from "./snapshot.js";
import { bindSockets, closeSockets, type ControllerSockets, type SocketPorts } from "./sockets.js";
import { openStore } from "./store/open-store.js";
import { SqliteTaskStore } from "./store/sqlite-store.js";
import type { PendingRetry, TaskStore } from "./store/task-store.js";
import { TaskRouter } from "./task-router.js";
import { DirectBarrier } from "./direct-barrier.js";
import { LoopWatch, loopCpuFromEnv } from "./loop-watch.js";
import { clientSocketLimits } from "./request-limits.js";
import { Slice } from "./slice.js";
import { Throughput } from "./throughput.js";
import { registerZapDomains } from "@tsparallel/protocol";
import { ProcessUsage } from "./process-usage.js";

/** The shared replay history holds as many signatures as the three receiving sockets had each. */
const REPLAY_SOCKETS = 3;
/** A port holding more connections than this gets a (rate-limited) warning. */
const CONNECTIONS_WARN_ABOVE = 4096;
/** How often the controller looks for clients that are gone. */
const CLIENT_WATCH_MS = 500;
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
  /** Whether every socket uses CURVE (the events socket always does). */
  readonly curve: boolean;
  /** Resolves once the controller has shut down, by a client's shutdown_request or by stop(). */
  readonly closed: Promise<void>;
  /** Graceful shutdown: stops every engine, publishes controller_shutdown, closes, removes the files. */
  stop(reason?: string): Promise<void>;
}

class Controller implements ControllerContext {
  readonly registry: EngineRegistry;
  readonly warnings: RateLimitedWarnings;
  readonly registrations: RegistrationBudget;
  readonly records: TaskRecords;
  readonly store: TaskStore;
  readonly events: EventPublisher;
  readonly router: TaskRouter;
  readonly control: EngineControl;
  readonly engineSender: MessageSender;
  readonly clientSender: MessageSender;
  readonly timings: HeartbeatTimings;
  readonly clients: ClientLiveness;
  readonly log: Logger;
  readonly functions: FunctionCache;
  readonly #connections: ConnectionWatch;
  readonly #heartbeat: HeartbeatMonitor;
  readonly #outbox: Outbox;
  readonly #senders: MessageSender[];
  readonly #throughput = new Throughput();
  readonly #usage = new ProcessUsage();
  /** One history for all the controller's sockets: a message captured on one port is refused on every other. */
  readonly #replay: ReplayGuard;
  readonly #loop = new LoopWatch(loopCpuFromEnv());
  readonly #directBarrier = new DirectBarrier((engine, token) => this.engineSender.send("report_request", { token }, { identities: engine.identity }));
  readonly #controllerInfo: ClusterSnapshot["controller"];
  #stopping?: Promise<void>;
  #clientWatch?: NodeJS.Timeout;
  #storeClosed = false;
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
    private readonly caps: ConnectionCaps,
  ) {
    this.log = options.logger;
    const history = messageLimits().replayHistory;
    // A restart with the old key: what was accepted before is dated before now (see ReplayGuard).
    this.#replay = new ReplayGuard(history * REPLAY_SOCKETS, options.restore ? Date.parse(started) : 0);
    this.timings = { heartbeatMs: options.heartbeatMs, heartbeatMisses: options.heartbeatMisses, heartbeatTimeoutMs: options.heartbeatTimeoutMs };
    this.#controllerInfo = { url, pid: process.pid, hostname: hostname(), started, scheme: options.scheme, hwm: options.hwm };
    const session = randomUUID();
    const sender = (socket: ControllerSockets[keyof ControllerSockets]) => new MessageSender(socket, signer, session, this.log, "compact");
    this.clientSender = sender(sockets.client);
    this.engineSender = sender(sockets.engine);
    const heartbeatSender = sender(sockets.heartbeat);
    const eventSender = sender(sockets.events);
    this.#senders = [this.clientSender, this.engineSender, heartbeatSender, eventSender];
    this.records = new TaskRecords(options.recordLimits);
    this.store = openStore(
      { db: options.db, profile: options.profile, file: options.dbFile, restore: options.restore, limits: options.storeLimits, memoryValueCap: options.recordLimits.keepResultMaxBytes },
      this.records,
      this.log,
    );
    this.warnings = new RateLimitedWarnings(this.log);
    this.registrations = new RegistrationBudget(options.newEnginesPerSecond);
    this.#connections = new ConnectionWatch(this.warnings, CONNECTIONS_WARN_ABOVE, () => caps.connectionClosed());
    for (const [name, socket] of Object.entries(sockets)) this.#connections.watch(name, socket as zmq.Socket);
    caps.watchCloses((name) => this.#connections.closedAfterHandshake(name));
    this.registry = new EngineRegistry(options.keepEndedEngines, (uuid) => this.store.engineByUuid(uuid));
    const functions = (this.functions = new FunctionCache(
      options.functionCacheBytes,
      (hash, source) => this.store.functionLearned(hash, source),
      (hash) => this.store.functionSource(hash),
    ));
    const requeued = options.restore ? this.#restore(functions) : [];
    this.#outbox = new Outbox(this.engineSender, this.clientSender);
    this.events = new EventPublisher(eventSender, signer, () => this.snapshot(), () => this.#throughput.sample(this.records.counts.done), new EventSubscribers(this.log));
    this.router = new TaskRouter(
      this.registry,
      this.records,
      functions,
      this.#outbox,
      this.events,
      createScheduler(options.scheme, options.hwm),
      options.hwm,
      options.lbWindow,
      this.log,
      this.store,
    );
    this.router.requeueRestored(requeued);
    this.#heartbeat = new HeartbeatMonitor(
      this.registry,
      heartbeatSender,
      this.timings,
      (engine, reason) => {
        this.engineLost(engine, "dead", reason);
        this.#send();
      },
      () => this.events.changed(),
      this.log,
    );
    this.control = new EngineControl(this.registry, this.engineSender, this.#heartbeat, this.log);
    // Clients get the tolerance engines get.
    this.clients = new ClientLiveness(() => this.timings.heartbeatTimeoutMs, CLIENT_WATCH_MS);
  }

  /**
   * Takes back the engine table and function sources of the run before a crash. Its pending tasks fail,
   * but for load-balanced ones with retries left: those are returned, to be queued again.
   */
  #restore(functions: FunctionCache): PendingRetry[] {
    if (!(this.store instanceof SqliteTaskStore)) {
      this.log.warn("--restore with the memory task store: there is nothing to restore but the ports and key");
      return [];
    }
    const state = this.store.restore({
      ename: "ControllerRestarted",
      evalue: "the controller stopped (crashed or was killed) while this task was queued or running, and was restarted; resubmit it to run it again",
      traceback: ["ControllerRestarted: the controller restarted while this task was queued or running"],
    });
    this.registry.restore(state.engines, state.nextEngineId);
    functions.preload(state.functions);
    const requeued = state.requeued.length ? `, ${state.requeued.length} pending task(s) queued again (they had retries left)` : "";
    this.log.info(`restored from ${this.store.location}: ${state.engines.length} engine(s) known (next id ${state.nextEngineId}), ${state.failedPending} pending task(s) failed${requeued}`);
    return state.requeued;
  }

  /** Writes what the store has waiting and closes it; safe to call more than once. */
  closeStore(): void {
    if (this.#storeClosed) return;
    this.#storeClosed = true;
    try {
      this.store.close();
    } catch (err) {
      this.log.error(`closing the task store failed: ${(err as Error).message}`);
    }
  }

  run(): void {
    this.store.start((what, work) => this.#loop.time(what, work));
    this.events.start(process.pid);
    this.#heartbeat.start();
    this.#clientWatch = setInterval(() => this.#judgeClients(), CLIENT_WATCH_MS);
    // One slice for both: each loop's backlog ran a slice's worth in the same turn after the other's (a
    // hold of 71 ms at 70 ms of the loop thread's CPU: 33 submit_requests and 32 task_replies, 1M map).
    const work = new Slice();
    void this.#serve(this.sockets.client, (msg) => handleClientMessage(this, msg), work, clientSocketLimits());
    void this.#serve(this.sockets.engine, (msg) => handleEngineMessage(this, msg), work);
    // Heartbeats are cheap and come first: this loop never yields on its own.
    void this.#serve(this.sockets.heartbeat, (msg) => this.#heartbeat.handle(msg));
    void this.#serve(this.sockets.events, (msg) => this.events.handle(msg));
  }

  snapshot(): ClusterSnapshot {
    return buildSnapshot({
      profile: this.options.profile,
      controller: { ...this.#controllerInfo, ...this.#usage.sample(), loop: this.#loop.figures() },
      registry: this.registry,
      records: this.records,
      balancer: this.router.balancer,
      throughput: this.#throughput,
      store: this.store,
      functions: this.functions,
      connections: this.#connections,
      caps: this.caps,
    });
  }

  directReported(msgIds?: readonly string[], targets?: readonly number[] | null): Promise<void> {
    const withDirect = () => this.registry.alive().filter((e) => e.direct !== undefined);
    if (!msgIds) {
      const wanted = targets ? new Set(targets) : undefined;
      return this.#directBarrier.wait(this.registry.alive().filter((e) => e.directUsed && (!wanted || wanted.has(e.id))));
    }
    const engines = new Set<EngineRecord>();
    for (const msgId of msgIds) {
      const record = this.records.get(msgId);
      if (!record) {
        // Unknown here: perhaps a direct task no engine has reported yet.
        if (msgIds.length <= 100_000) return this.#directBarrier.wait(withDirect());
        continue;
      }
      if (!record.direct || !record.pending || record.engineId === null) continue;
      const engine = this.registry.byId(record.engineId);
      if (engine?.alive) engines.add(engine);
    }
    return this.#directBarrier.wait([...engines]);
  }

  directReportAnswered(engineId: number, token: unknown): void {
    this.#directBarrier.answered(engineId, token);
  }

  engineLost(engine: EngineRecord, lifecycle: "dead" | "stopped", reason: string): void {
    if (!engine.alive) return;
    engine.lifecycle = lifecycle;
    this.registry.ended(engine);
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
    clearInterval(this.#clientWatch);
    this.#loop.stop();
    await Promise.race([Promise.all(this.#senders.map((s) => s.flushed())), sleep(CLOSE_LINGER_MS)]);
    for (const s of this.#senders) s.close();
    this.#connections.close();
    this.caps.close();
    closeSockets(this.sockets, CLOSE_LINGER_MS);
    this.closeStore();
    removeConnectionFiles(this.options, process.pid, this.key, this.log);
    this.log.info("controller stopped");
    this.#resolveClosed();
  }

  #judgeClients(): void {
    // Their beats wait unread in the client socket while the store's writer catches up: not their silence.
    if (this.store.stats().behind?.paused) {
      this.clients.excuse();
      return;
    }
    for (const { session, silentMs, keys } of this.clients.gone()) {
      if (this.options.orphanTasks === "keep") {
        this.log.info(`client ${session} is gone (silent for ${silentMs} ms); its tasks are kept (--orphan-tasks keep)`);
        continue;
      }
      const why = `its client was silent for ${silentMs} ms and is taken to be gone (--orphan-tasks abort)`;
      let aborted = 0;
      for (const key of keys) aborted += this.router.abortOrphaned(key, why);
      this.log.warn(`client ${session} is gone (silent for ${silentMs} ms): aborting its ${aborted} unstarted task(s)`);
    }
    this.#send();
  }

  /** The store first: no result leaves before its row is on its way to the writer (it does not wait for the commit). */
  #send(): void {
    this.store.flushFinished();
    this.#outbox.flush();
  }

  /**
   * One receive loop; everything a message produced leaves in one batch per destination. A handler
   * may work in slices (it returns a promise); the next message of this socket waits for it, so a
   * client's requests are still handled in order. A backlog of messages is read SLICE_MS at a time:
   * ZeroMQ hands queued messages over without a turn of the event loop, which would otherwise starve
   * the timers and the heartbeat socket for as long as the backlog lasts.
   */
  async #serve(socket: AsyncIterable<Buffer[]>, handle: (msg: Message) => void | Promise<void>, slice?: Slice, limits?: MessageLimits): Promise<void> {
    for await (const msg of receiveMessages(socket, this.signer, this.log, { replay: this.#replay, ...(limits ? { limits } : {}) })) {
      // Back-pressure: while the store's writer is far behind, new work waits in the socket (heartbeats do not).
      const behind = slice && this.store.caughtUp();
      if (behind) {
        this.events.changed();
        await behind;
        this.events.changed();
      }
      // Whether the send's span starts where the handler's ended (nothing ran between them).
      let adjoining = false;
      try {
        // Timed: the part of a handler that runs before its first slice yields, and what it sends.
        const working = this.#loop.time(msg.header.msg_type, () => handle(msg));
        if (working) await working;
        else adjoining = true;
      } catch (err) {
        this.log.error(`handling ${msg.header.msg_type} failed: ${(err as Error).stack ?? String(err)}`);
      }
      // One span for the store's part (it only schedules its handover) and the outbox's: a span reads the clock and the CPU at each end.
      const sending = `sending after ${msg.header.msg_type}`;
      if (adjoining) this.#loop.timeNext(sending, () => this.#send());
      else this.#loop.time(sending, () => this.#send());
      if (slice?.dueNow()) await slice.yield();
    }
  }
}

/** The configured caps, lowered (and said so) when the open-file limit leaves less room. */
function connectionCaps(options: ResolvedOptions, openFiles: number | undefined): ConnectionCaps {
  const wanted = { perAddress: options.maxConnectionsPerAddress, perPort: options.maxConnectionsPerPort };
  const limits = fitToOpenFiles(wanted, openFiles);
  if (limits.perPort < wanted.perPort) {
    options.logger.warn(`the open-file limit (${openFiles}) leaves room for ${limits.perPort} connections per port (of ${wanted.perPort} asked): raise \`ulimit -n\` (hard) for larger clusters`);
  }
  return new ConnectionCaps(limits, new RateLimitedWarnings(options.logger), options.logger);
}

/** Binds the sockets, writes the connection files and starts serving. */
export async function startController(options: ControllerOptions = {}): Promise<RunningController> {
  const resolved = resolveOptions(options);
  const openFiles = raiseOpenFileLimit(resolved.logger);
  // A restarted controller takes the old ports and key: engines and clients find it where it was.
  const previous = resolved.restore ? previousConnection(resolved) : undefined;
  // Restored without --curve/--no-curve: as the files say, since the peers reconnect with those files
  // (connection files written ahead of time, as in deploy/kubernetes, may have no keys at all).
  if (previous && options.curve === undefined) resolved.curve = previous.curve;
  const curveKeys = previous?.curveKeys ?? newCurveKeys();
  const caps = connectionCaps(resolved, openFiles?.soft);
  const socketNames = ["client", "events", "engine", "heartbeat"] as const;
  for (const name of socketNames) caps.addPort(name);
  const zap = await registerZapDomains(
    Object.fromEntries(socketNames.map((name) => [name, { ...(resolved.curve ? { curve: curveKeys } : {}), admit: (address: string) => caps.admit(name, address) }])),
    resolved.logger,
  );
  let bound: Awaited<ReturnType<typeof bindSockets>>;
  try {
    bound = await bindSockets(resolved.ip, { keys: curveKeys, curve: resolved.curve, zapDomains: zap.domains as Record<(typeof socketNames)[number], string> }, previous?.ports);
  } catch (err) {
    zap.close();
    caps.close();
    throw err;
  }
  const { sockets, ports } = bound;
  for (const name of socketNames) caps.setPort(name, ports[name]);
  const key = previous?.key ?? randomBytes(32).toString("hex");
  const started = new Date().toISOString();
  const url = `tcp://${resolved.location}:${ports.client}`;
  let controller: Controller;
  try {
    controller = new Controller(resolved, sockets, new Signer(key), key, url, started, caps);
  } catch (err) {
    closeSockets(sockets, 0);
    zap.close();
    caps.close();
    throw err;
  }
  try {
    writeConnectionFiles(
      resolved,
      {
        ip: resolved.ip, location: resolved.location, key, profile: resolved.profile, controller: { pid: process.pid, hostname: hostname(), started },
        curve: resolved.curve, curve_keys: curveKeys,
      },
      ports,
    );
  } catch (err) {
    closeSockets(sockets, 0);
    zap.close();
    caps.close();
    controller.closeStore();
    throw err;
  }
  void controller.closed.then(() => zap.close());
  // Should the process end without a graceful shutdown (a crash, process.exit), the files still go.
  const removeFiles = () => {
    controller.closeStore();
    removeConnectionFiles(resolved, process.pid, key, resolved.logger);
  };
  process.once("exit", removeFiles);
  void controller.closed.then(() => process.off("exit", removeFiles));
  controller.run();
  resolved.logger.info(`controller ${process.pid} serving clients on ${url} (${resolved.curve ? "CURVE on every socket" : "CURVE on events only"}, scheme ${resolved.scheme}, hwm ${resolved.hwm}, task store ${controller.store.kind}${controller.store.location ? ` ${controller.store.location}` : ""}${previous ? ", restored ports and key" : ""})`);
  return {
    pid: process.pid,
    clientFile: resolved.clientFile,
    engineFile: resolved.engineFile,
    ports,
    url,
    curve: resolved.curve,
    closed: controller.closed,
    stop: (reason = "stop requested") => controller.shutdownHub(reason, null),
  };
}
