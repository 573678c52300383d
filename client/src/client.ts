import { EventEmitter } from "node:events";
import {
  clientConnectionFile, newMessageId, readConnectionFile, splitFrames, unpackValue,
  type ClusterSnapshot, type EngineInfo, type FunctionRef, type Message, type MessageContents, type MessageType,
  type QueueStatus, type ShippedFunction, type TaskBody, type TaskRecordInfo, type TaskRequest,
} from "@tsparallel/protocol";
import { AsyncResult, type TaskMetadata } from "./async-result.js";
import { ControllerError, NoEnginesError, TaskAbortedError, TimeoutError, remoteErrorFrom } from "./errors.js";
import { ControllerLink } from "./link.js";
import { SubmitQueue } from "./submit-queue.js";
import { DirectView } from "./views/direct-view.js";
import { LoadBalancedView, type LoadBalancedOptions } from "./views/load-balanced-view.js";

export interface ConnectOptions {
  /** Profile whose connection file to use (default "default"). */
  profile?: string;
  /** An explicit client connection file; overrides `profile`. */
  connectionFile?: string;
  /** How long to wait for the controller's first answer, ms (default 10,000). */
  timeout?: number;
  /**
   * Outstanding tasks fail with ControllerError after this long without a word from the controller, ms
   * (default 60,000: a controller paused or stalled for less, as engines tolerate, is not given up on).
   */
  controllerTimeout?: number;
  /** Make it the active client (default true). */
  activate?: boolean;
}

/** One task as a view hands it to the client; it becomes one message id per target. */
export interface TaskSpec {
  targets: number[] | null;
  body: TaskBody;
  frames: Buffer[];
  lb?: TaskRequest["lb"];
}

interface Tracked {
  result: AsyncResult<unknown>;
  index: number;
}

export interface ClientEvents {
  engine_registered: [MessageContents["engine_registered"]];
  engine_dead: [MessageContents["engine_dead"]];
  engine_unregistered: [MessageContents["engine_unregistered"]];
  cluster_snapshot: [ClusterSnapshot];
  task_stream: [MessageContents["task_stream"]];
  controller_shutdown: [MessageContents["controller_shutdown"]];
}

const REQUEST_TIMEOUT_MS = 10_000;
/** Most tasks in one submit_request (see #flush). */
const SUBMIT_BATCH = 4096;
/** Most tasks sent and not yet answered; the rest wait in this client (see SubmitQueue). */
const MAX_IN_FLIGHT = 65_536;

/** A connection to a tsparallel controller: the entry point for views, results and cluster queries. */
export class Client implements AsyncDisposable {
  static #active: Client | undefined;
  readonly events = new EventEmitter<ClientEvents>();
  /** Message ids this client submitted, oldest first. */
  readonly history: string[] = [];
  readonly profile: string;
  readonly connectionFile: string;
  readonly #link: ControllerLink;
  readonly #engines = new Map<number, EngineInfo>();
  readonly #tasks = new Map<string, Tracked>();
  readonly #sentFunctions = new Set<string>();
  readonly #unsent = new SubmitQueue();
  #flushQueued = false;
  #watchdog: NodeJS.Timeout;
  readonly #requestTimeout: number;
  #closed = false;

  private constructor(link: ControllerLink, profile: string, connectionFile: string, controllerTimeout: number, requestTimeout: number) {
    this.#link = link;
    this.#requestTimeout = requestTimeout;
    this.profile = profile;
    this.connectionFile = connectionFile;
    this.#watchdog = setInterval(() => this.#checkController(controllerTimeout), 1000).unref();
  }

  /** The client that `%px` magics and other implicit users act on: the last one connected or activated. */
  static get active(): Client | undefined {
    return Client.#active && !Client.#active.#closed ? Client.#active : undefined;
  }

  static async connect(options: ConnectOptions = {}): Promise<Client> {
    const profile = options.profile ?? "default";
    const file = options.connectionFile ?? clientConnectionFile(profile);
    const info = readConnectionFile(file, "client");
    let client: Client | undefined;
    const link = new ControllerLink(info, {
      onMessage: (msg) => {
        if (client) client.#onMessage(msg);
      },
      onEvent: (msg) => {
        if (client) client.#onEvent(msg);
      },
    });
    client = new Client(link, info.profile ?? profile, file, options.controllerTimeout ?? 60_000, options.timeout ?? REQUEST_TIMEOUT_MS);
    try {
      const reply = await link.request<"connect_request", "connect_reply">("connect_request", {}, options.timeout ?? REQUEST_TIMEOUT_MS);
      client.#setEngines(reply.content.engines);
    } catch (err) {
      client.close();
      if (err instanceof TimeoutError) throw new TimeoutError(`${err.message} (connection file ${file})`);
      throw err;
    }
    if (options.activate ?? true) client.activate();
    return client;
  }

  /** Ids of the engines alive now, ascending. */
  get ids(): number[] {
    return [...this.#engines.values()].filter((e) => e.state !== "dead" && e.state !== "stopped").map((e) => e.id).sort((a, b) => a - b);
  }

  get engines(): EngineInfo[] {
    return [...this.#engines.values()];
  }

  /** The controller's client address. */
  get url(): string {
    return this.#link.address;
  }

  activate(): this {
    Client.#active = this;
    return this;
  }

  /** Resolves once at least `n` engines are registered. */
  async waitForEngines(n: number, { timeout = 30_000 }: { timeout?: number } = {}): Promise<number[]> {
    const deadline = Date.now() + timeout;
    while (this.ids.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`${this.ids.length} of ${n} engines registered after ${timeout} ms`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.events.off("engine_registered", done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 250));
        this.events.on("engine_registered", done);
      });
      if (this.ids.length < n) await this.#refreshEngines().catch(() => undefined);
    }
    return this.ids;
  }

  directView(): DirectView<false>;
  directView(target: number): DirectView<true>;
  directView(targets: number[] | "all"): DirectView<false>;
  directView(targets: number | number[] | "all" = "all"): DirectView<boolean> {
    return new DirectView(this, targets);
  }

  loadBalancedView(options: LoadBalancedOptions = {}): LoadBalancedView {
    return new LoadBalancedView(this, options);
  }

  async queueStatus(targets?: number[], { verbose = false } = {}): Promise<{ engines: Record<number, QueueStatus>; unassigned: number }> {
    const reply = await this.#request<"queue_status_request", "queue_status_reply">("queue_status_request", { ...(targets ? { targets } : {}), verbose });
    const engines: Record<number, QueueStatus> = {};
    for (const [id, status] of Object.entries(reply.content.engines)) engines[Number(id)] = status;
    return { engines, unassigned: reply.content.unassigned };
  }

  /** Aborts tasks that have not started: the given ones, or every outstanding task of this client. */
  async abort(msgIds?: string[] | AsyncResult<unknown>): Promise<string[]> {
    const named = msgIds instanceof AsyncResult ? msgIds.msgIds : msgIds;
    // Tasks still waiting in this client are aborted here; the controller never hears of them.
    const here = this.#unsent.remove(named ? new Set(named) : undefined);
    for (const msgId of here) this.#settleAborted(msgId);
    const abortedHere = new Set(here);
    const ids = named ? named.filter((id) => !abortedHere.has(id)) : Array.from(this.#tasks.keys());
    const reply = await this.#request<"abort_request", "abort_reply">("abort_request", { msgIds: ids });
    for (const id of reply.content.aborted) here.push(id);
    return here;
  }

  #settleAborted(msgId: string): void {
    const tracked = this.#tasks.get(msgId);
    if (!tracked) return;
    this.#tasks.delete(msgId);
    const error = new TaskAbortedError(msgId);
    const meta = tracked.result.metadata[tracked.index]!;
    meta.status = "aborted";
    meta.error = error;
    tracked.result._settle(tracked.index, undefined, error);
  }

  /** The record of any task the controller still knows (from this or another client). */
  async getResult(msgId: string): Promise<TaskRecordInfo & { value?: unknown }> {
    const reply = await this.#request<"result_request", "result_reply">("result_request", { msgIds: [msgId] });
    const record = reply.content.records[0];
    if (!record) throw new Error(`the controller has no record of task ${msgId}`);
    if (record.bufferCount > 0) return { ...record, value: unpackValue(reply.buffers.slice(0, record.bufferCount)) };
    return record;
  }

  /** Every task id the controller knows, oldest first. */
  async controllerHistory(): Promise<string[]> {
    const reply = await this.#request<"history_request", "history_reply">("history_request", {});
    return reply.content.msgIds;
  }

  async status(): Promise<ClusterSnapshot> {
    const reply = await this.#request<"status_request", "status_reply">("status_request", {});
    return reply.content;
  }

  /** Sends SIGINT to engines: their running tasks fail with InterruptError, the engines live on. */
  async interrupt(targets: number[] = this.ids): Promise<number[]> {
    const reply = await this.#request<"interrupt_request", "interrupt_reply">("interrupt_request", { targets });
    return reply.content.engines;
  }

  async stopEngines(targets: number[]): Promise<number[]> {
    const reply = await this.#request<"engine_stop_request", "engine_stop_reply">("engine_stop_request", { targets });
    for (const id of reply.content.engines) this.#markGone(id, "stopped");
    return reply.content.engines;
  }

  /** Stops engines (all by default) and, with `hub: true`, the controller too. */
  async shutdown({ targets, hub = false }: { targets?: number[]; hub?: boolean } = {}): Promise<number[]> {
    const reply = await this.#request<"shutdown_request", "shutdown_reply">("shutdown_request", { targets: targets ?? null, hub });
    for (const id of reply.content.engines) this.#markGone(id, "stopped");
    return reply.content.engines;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    this.#link.close();
    this.#failOutstanding(() => new ControllerError("the client was closed before the task finished"));
    if (Client.#active === this) Client.#active = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** @internal Targets resolved now: throws NoEnginesError when there is nothing to run on. */
  _resolveTargets(targets: number | number[] | "all"): number[] {
    const live = this.ids;
    if (targets === "all") {
      if (live.length === 0) throw new NoEnginesError("no engines are registered: start some with `tspcluster start -n 2` or cluster.addEngines(n)");
      return live;
    }
    const list = typeof targets === "number" ? [targets] : targets;
    if (list.length === 0) throw new NoEnginesError("no target engines given");
    const unknown = list.filter((id) => !live.includes(id));
    if (unknown.length) throw new NoEnginesError(`engine${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} ${unknown.length > 1 ? "are" : "is"} not registered (alive: ${live.join(", ") || "none"})`);
    return list;
  }

  /** @internal The wire reference for a function: its source only the first time this client sends it. */
  _functionRef(fn: ShippedFunction): FunctionRef {
    if (this.#sentFunctions.has(fn.hash)) return { hash: fn.hash, name: fn.name };
    this.#sentFunctions.add(fn.hash);
    return { hash: fn.hash, name: fn.name, source: fn.source };
  }

  /** @internal Queues tasks (sent together at the end of this tick) and tracks their result. */
  _submit<R extends AsyncResult<unknown>>(specs: TaskSpec[], make: (metadata: TaskMetadata[]) => R): R {
    if (this.#closed) throw new Error("the client is closed");
    const submitted = Date.now();
    const metadata: TaskMetadata[] = [];
    const requests: TaskRequest[] = [];
    for (const spec of specs) {
      const count = spec.targets === null ? 1 : spec.targets.length;
      const msgIds: string[] = [];
      for (let i = 0; i < count; i++) {
        const msgId = newMessageId();
        msgIds.push(msgId);
        metadata.push({ msgId, kind: spec.body.kind, engineId: spec.targets?.[i] ?? null, submitted, stdout: "", stderr: "" });
      }
      requests.push({ msgIds, targets: spec.targets, body: spec.body, bufferCount: spec.frames.length, ...(spec.lb ? { lb: spec.lb } : {}) });
    }
    const result = make(metadata);
    metadata.forEach((m, index) => {
      this.#tasks.set(m.msgId, { result: result as AsyncResult<unknown>, index });
      this.history.push(m.msgId);
    });
    for (let i = 0; i < specs.length; i++) this.#unsent.push(requests[i]!, specs[i]!.frames);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
    return result;
  }

  /** Requests go after any submissions of this tick, so that they see those tasks (abort, queue status). */
  #request<T extends MessageType, R extends MessageType>(type: T, content: MessageContents[T]): Promise<Message<MessageContents[R]>> {
    this.#flush();
    return this.#link.request<T, R>(type, content, this.#requestTimeout);
  }

  /**
   * Sends what was submitted, at most SUBMIT_BATCH tasks per message (the controller decodes a message
   * in one go, and a 200,000-task message would hold its loop for seconds), and only while fewer than
   * MAX_IN_FLIGHT tasks are sent and unanswered; results make room for more.
   */
  #flush(): void {
    this.#flushQueued = false;
    if (this.#closed) return;
    while (this.#unsent.length) {
      const inFlight = this.#tasks.size - this.#unsent.msgIds;
      const room = MAX_IN_FLIGHT - inFlight;
      if (room <= 0) return;
      const { tasks, frames } = this.#unsent.take(Math.min(SUBMIT_BATCH, room));
      this.#link.send("submit_request", { tasks }, { buffers: frames });
    }
  }

  #onMessage(msg: Message): void {
    switch (msg.header.msg_type) {
      case "task_reply":
        this.#onResults(msg as Message<MessageContents["task_reply"]>);
        break;
      case "stream":
        this.#onStream(msg as Message<MessageContents["stream"]>);
        break;
      default:
        break;
    }
  }

  #onResults(msg: Message<MessageContents["task_reply"]>): void {
    const { results } = msg.content;
    const groups = splitFrames(msg.buffers, results.map((r) => r.bufferCount));
    const received = Date.now();
    results.forEach((result, i) => {
      const tracked = this.#tasks.get(result.msgId);
      if (!tracked) return;
      this.#tasks.delete(result.msgId);
      const meta = tracked.result.metadata[tracked.index]!;
      meta.engineId = result.engineId;
      meta.started = result.started;
      meta.completed = result.completed;
      meta.received = received;
      meta.status = result.status;
      if (result.stdout) meta.stdout += result.stdout;
      if (result.stderr) meta.stderr += result.stderr;
      if (result.executionCount !== undefined) meta.executionCount = result.executionCount;
      if (result.repr !== undefined) meta.repr = result.repr;
      let value: unknown;
      let error: Error | undefined;
      if (result.status === "aborted") error = new TaskAbortedError(result.msgId);
      else if (result.status === "error") {
        const info = result.error ?? { ename: "Error", evalue: "the engine reported an error without details", traceback: [] };
        error = remoteErrorFrom({ ...info, engineId: result.engineId }, result.msgId);
      }
      else if (result.bufferCount > 0) {
        try {
          value = unpackValue(groups[i]!);
        } catch (err) {
          error = err as Error;
        }
      }
      meta.error = error;
      tracked.result._settle(tracked.index, value, error);
    });
    if (this.#unsent.length) this.#flush();
  }

  #onStream(msg: Message<MessageContents["stream"]>): void {
    for (const item of msg.content.items) {
      const tracked = this.#tasks.get(item.msgId);
      if (!tracked) continue;
      const meta = tracked.result.metadata[tracked.index]!;
      meta[item.name] += item.text;
      tracked.result._output({ ...item, index: tracked.index });
    }
  }

  #onEvent(msg: Message): void {
    const type = msg.header.msg_type;
    switch (type) {
      case "engine_registered": {
        const { engine } = msg.content as MessageContents["engine_registered"];
        this.#engines.set(engine.id, engine);
        break;
      }
      case "engine_dead":
        this.#markGone((msg.content as MessageContents["engine_dead"]).id, "dead");
        break;
      case "engine_unregistered":
        this.#markGone((msg.content as MessageContents["engine_unregistered"]).id, "stopped");
        break;
      case "cluster_snapshot":
        this.#mergeSnapshot(msg.content as ClusterSnapshot);
        break;
      case "controller_shutdown":
        this.#failOutstanding(() => new ControllerError("the controller shut down before the task finished"));
        break;
      default:
        break;
    }
    if (type !== "controller_heartbeat") this.events.emit(type as keyof ClientEvents, msg.content as never);
  }

  #mergeSnapshot(snapshot: ClusterSnapshot): void {
    for (const e of snapshot.engines) {
      const known = this.#engines.get(e.id);
      this.#engines.set(e.id, { id: e.id, uuid: known?.uuid ?? "", hostname: e.hostname, pid: e.pid, state: e.state, registered: known?.registered ?? snapshot.time });
    }
  }

  #setEngines(engines: EngineInfo[]): void {
    for (const engine of engines) this.#engines.set(engine.id, engine);
  }

  async #refreshEngines(): Promise<void> {
    const reply = await this.#request<"connect_request", "connect_reply">("connect_request", {});
    this.#setEngines(reply.content.engines);
  }

  #markGone(id: number, state: "dead" | "stopped"): void {
    const engine = this.#engines.get(id);
    if (engine) engine.state = state;
  }

  #checkController(timeoutMs: number): void {
    if (this.#tasks.size === 0) return;
    const silentFor = Date.now() - this.#link.lastHeard;
    if (silentFor > timeoutMs) {
      this.#failOutstanding(() => new ControllerError(`no word from the controller at ${this.url} for ${Math.round(silentFor / 1000)} s: is it still running?`));
    }
  }

  #failOutstanding(makeError: () => Error): void {
    this.#unsent.remove();
    for (const [msgId, tracked] of this.#tasks) {
      this.#tasks.delete(msgId);
      const error = makeError();
      tracked.result.metadata[tracked.index]!.error = error;
      tracked.result._settle(tracked.index, undefined, error);
    }
  }
}
