import { EventEmitter } from "node:events";
import { inspect, type InspectOptions } from "node:util";
import {
  clientConnectionFile, clusterIdOfConnectionFile, decodePublishedData, directFromEnv, messageIdAt, newMessageId, reserveMessageIds, type MessageIdBlock, readConnectionFile, SerializationError, splitFrames, unpackValue,
  type ClusterSnapshot, type DirectTask, type EngineInfo, type FunctionRef, type Message, type MessageContents, type MessageType,
  type QueueStatus, type ShippedFunction, type TaskBody, type TaskDbFilter, type TaskDbKey, type TaskDbRecord,
  type TaskRecordInfo, type TaskRequest, type TaskResult,
} from "@tsparallel/protocol";
import { AsyncResult, type TaskOwner } from "./async-result.js";
import { DirectLink } from "./direct-link.js";
import { warnIfControllerElsewhere } from "./location-check.js";
import { ControllerError, EngineError, NoEnginesError, TaskAbortedError, TimeoutError, remoteErrorFrom } from "./errors.js";
import { ControllerLink } from "./link.js";
import { BuiltTasks, OneTask, SubmitQueue, type TaskSource, type Waiting } from "./submit-queue.js";
import { isBlock, TaskTable } from "./task-table.js";
import { BroadcastView, DirectView, type DirectViewOptions } from "./views/direct-view.js";
import { LoadBalancedView, type LoadBalancedOptions } from "./views/load-balanced-view.js";

/** Read once: the getter crosses into C++ on every access (microseconds each while the process is young). */
const TIME_ORIGIN = performance.timeOrigin;

export interface ConnectOptions {
  /** Profile whose connection file to use (default "default"). */
  profile?: string;
  /** One of several clusters in the profile (`Cluster.start({ clusterId })`); default "": the profile's own. */
  clusterId?: string;
  /** An explicit client connection file; overrides `profile` and `clusterId`. */
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
  /**
   * Send DirectView work straight to each engine that this client can reach (default: true, unless
   * `TSPARALLEL_DIRECT=0`); engines it cannot reach, and all of them with `false`, are served through
   * the controller. The controller keeps the records of direct tasks either way.
   */
  direct?: boolean;
}

/** One task as a view hands it to the client; it becomes one message id per target. */
export interface TaskSpec {
  targets: number[] | null;
  body: TaskBody;
  frames: Buffer[];
  lb?: TaskRequest["lb"];
  /** Ids chosen before submission (a task held back until its dependencies are met); new ones otherwise. */
  msgIds?: string[];
  /** Several targets, one task: the controller sends their results back together (BroadcastView). */
  broadcast?: boolean;
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
/** Outstanding tasks asked about per result_request after a controller restart. */
const RECOVER_BATCH = 10_000;
/** Most msg ids in one abort, purge or resubmit request: the controller takes JSON frames of at most 8 MiB. */
const IDS_PER_REQUEST = 100_000;

/** `ids` in parts of at most `size`. */
function inParts<T>(ids: readonly T[], size = IDS_PER_REQUEST): T[][] {
  const parts: T[][] = [];
  for (let at = 0; at < ids.length; at += size) parts.push(ids.slice(at, at + size));
  return parts.length ? parts : [[]];
}

/** What `rc.wait` waits for: a result, a msg id, or an index into `history` (negative from the end). */
export type Job = AsyncResult<unknown> | string | number;
/** A controller heartbeat this long after a controller_shutdown comes from a restarted controller. */
const RESTARTED_AFTER_MS = 2_000;
/** The frames of a result without any (never written to). */
const NO_FRAMES: Buffer[] = [];
/** Most tasks in one submit_request (see #flush). */
const SUBMIT_BATCH = 4096;
/** What _functionRef made for each shipped function (a packaged one is shipped anew per call, so it gets its own). */
const functionRefs = new WeakMap<ShippedFunction, FunctionRef>();
/** Most tasks sent and not yet answered; the rest wait in this client (see SubmitQueue). */
const MAX_IN_FLIGHT = 65_536;
/** Most engines one client links to directly (a socket each); DirectView work for the others goes through the controller. */
const MAX_DIRECT_LINKS = 64;

/** A connection to a tsparallel controller: the entry point for views, results and cluster queries. */
export class Client implements AsyncDisposable {
  static #active: Client | undefined;
  readonly events = new EventEmitter<ClientEvents>();
  /** Message ids this client submitted, spelled out only when `history` is read (a map's are a reserved block). */
  readonly #history: string[] = [];
  #historyLater: (readonly string[] | MessageIdBlock)[] = [];
  readonly profile: string;
  /** Which of the profile's clusters ("" for the profile's own), as the connection file's name says. */
  readonly clusterId: string;
  readonly connectionFile: string;
  readonly #link: ControllerLink;
  readonly #engines = new Map<number, EngineInfo>();
  /** Tasks sent and not answered yet (at most MAX_IN_FLIGHT); those not sent yet wait in #unsent. */
  readonly #tasks = new Map<string, Tracked>();
  readonly #unsent = new SubmitQueue();
  readonly #received = { results: 0, resultBytes: 0 };
  #flushQueued = false;
  #watchdog: NodeJS.Timeout;
  readonly #requestTimeout: number;
  readonly #controllerTimeout: number;
  /** When the controller said it shut down; cleared by a heartbeat well after that (a restarted controller). */
  #shutdownAt = 0;
  #closed = false;
  /** The controller's pid as its heartbeats say: a new one means it was restarted. */
  #controllerPid: number | undefined;
  /** Whether DirectView work may go straight to engines (ConnectOptions.direct). */
  readonly #directWanted: boolean;
  /** This client's routing identity at the controller (connect_reply), named in direct requests. */
  #clientId: string | undefined;
  /** Direct links by engine id (ready, connecting, or failed: then that engine is served through the controller). */
  readonly #links = new Map<number, DirectLink>();
  /** Direct tasks in flight: msg id -> engine id. */
  readonly #directTasks = new Map<string, number>();
  /** Direct tasks in flight per engine. */
  readonly #directCount = new Map<number, number>();
  /** Targeted tasks sent through the controller, per engine: that engine's next task goes direct only once they are answered. */
  readonly #routedTo = new Map<number, Set<string>>();
  /** The size at which an engine's #routedTo set is next pruned of answered tasks. */
  readonly #routedPruneAt = new Map<number, number>();
  /** Direct tasks of this tick, per link: sent together at the end of it. */
  readonly #directOut = new Map<DirectLink, { tasks: DirectTask[]; frames: Buffer[] }>();

  private constructor(link: ControllerLink, profile: string, connectionFile: string, controllerTimeout: number, requestTimeout: number, direct: boolean) {
    this.#link = link;
    this.#directWanted = direct;
    this.#requestTimeout = requestTimeout;
    this.#controllerTimeout = controllerTimeout;
    this.profile = profile;
    this.clusterId = clusterIdOfConnectionFile(connectionFile);
    this.connectionFile = connectionFile;
    this.#watchdog = setInterval(() => this.#checkController(controllerTimeout), 1000).unref();
    this.#controllerTimeout = controllerTimeout;
  }

  /** Message ids this client submitted, oldest first. */
  get history(): readonly string[] {
    if (this.#historyLater.length) {
      for (const ids of this.#historyLater) {
        if (isBlock(ids)) for (let i = 0; i < ids.count; i++) this.#history.push(messageIdAt(ids, i));
        else for (const id of ids) this.#history.push(id);
      }
      this.#historyLater = [];
    }
    return this.#history;
  }

  /** The client that `%px` magics and other implicit users act on: the last one connected or activated. */
  static get active(): Client | undefined {
    return Client.#active && !Client.#active.#closed ? Client.#active : undefined;
  }

  static async connect(options: ConnectOptions = {}): Promise<Client> {
    const profile = options.profile ?? "default";
    const file = options.connectionFile ?? clientConnectionFile(profile, options.clusterId);
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
    client = new Client(link, info.profile ?? profile, file, options.controllerTimeout ?? 60_000, options.timeout ?? REQUEST_TIMEOUT_MS, options.direct ?? directFromEnv());
    try {
      const [reply] = await Promise.all([
        link.request<"connect_request", "connect_reply">("connect_request", {}, options.timeout ?? REQUEST_TIMEOUT_MS),
        warnIfControllerElsewhere(info, file),
      ]);
      client.#setEngines(reply.content.engines);
      client.#clientId = reply.content.client;
      client.#controllerPid = reply.content.snapshot.controller.pid;
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

  /** Ids of the engines this client sends DirectView work to straight (their direct link is ready), ascending. */
  get directEngines(): number[] {
    return [...this.#links.values()].filter((l) => l.state === "ready").map((l) => l.engineId).sort((a, b) => a - b);
  }

  /** @internal Which socket of an engine's direct port this client's ready link to it uses. */
  _directTransport(engineId: number): "stream" | "zmq" | undefined {
    const link = this.#links.get(engineId);
    return link?.state === "ready" ? link.transport : undefined;
  }

  /** @internal The direct stream to an engine has completed its trust exchange (stream-trust.ts): its messages go unsigned. */
  _directStreamTrusted(engineId: number): boolean {
    return this.#links.get(engineId)?.streamTrusted ?? false;
  }

  /** The controller's client address. */
  get url(): string {
    return this.#link.address;
  }

  /**
   * Why the controller is gone (it announced its shutdown, or has been silent longer than the
   * controller timeout, though it sends a heartbeat every second), or null while it is heard.
   */
  get controllerLost(): string | null {
    if (this.#shutdownAt) return `the controller at ${this.url} has shut down`;
    const silentFor = Date.now() - this.#link.lastHeard;
    if (silentFor > this.#controllerTimeout) return `the controller at ${this.url} has not been heard for ${Math.round(silentFor / 1000)} s: is it still running?`;
    return null;
  }

  activate(): this {
    Client.#active = this;
    return this;
  }

  /**
   * @internal Set by the Cluster that made this client: how many engines may still be there (its
   * launched processes not known to have exited, plus engines started elsewhere), and what exited.
   */
  _engineWatch: ((registered: EngineInfo[]) => { possible: number; exited: string[] }) | undefined;

  /**
   * Resolves once at least `n` engines are registered. A client from `cluster.connect()` fails early,
   * with EngineError, once engine processes of the cluster exited and too few are left for `n` to come
   * (more may still be added meanwhile: with none exited, it waits).
   */
  async waitForEngines(n: number, { timeout = 30_000 }: { timeout?: number } = {}): Promise<number[]> {
    const deadline = Date.now() + timeout;
    while (this.ids.length < n) {
      const watch = this._engineWatch?.(this.engines.filter((e) => e.state !== "dead" && e.state !== "stopped"));
      if (watch && watch.exited.length > 0 && watch.possible < n) {
        const evalue = `waiting for ${n} engines, but at most ${watch.possible} can come: engine process${watch.exited.length === 1 ? "" : "es"} ${watch.exited.join(", ")} exited`;
        throw new EngineError({ ename: "EngineError", evalue, traceback: [] });
      }
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
  directView(target: number, options?: DirectViewOptions): DirectView<true>;
  directView(targets: number[] | "all", options?: DirectViewOptions): DirectView<false>;
  directView(targets: number | number[] | "all" = "all", options: DirectViewOptions = {}): DirectView<boolean> {
    const view = new DirectView(this, targets, options);
    // Links open now, so the view's first call may already go straight to its engines.
    if (this.#directWanted) for (const id of targets === "all" ? this.ids : typeof targets === "number" ? [targets] : targets) this.#linkTo(id);
    return view;
  }

  /**
   * A view for do-on-all calls (ipyparallel's BroadcastView): execute, apply, push, pull, clear and
   * import go to the controller as one task and come back as one batch of results, in target order.
   * A DirectView on "all" engines works the same way; this one does it for any list of targets.
   */
  broadcastView(targets: number[] | "all" = "all", options: Omit<DirectViewOptions, "broadcast"> = {}): BroadcastView {
    return new BroadcastView(this, targets, options);
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
    // What this tick submitted goes first (as before any request), so the controller records it aborted.
    this.#flush();
    // Tasks still waiting in this client (past the in-flight window) are aborted here; the controller never hears of them.
    const waiting = this.#unsent.remove(named ? new Set(named) : undefined);
    const here: string[] = [];
    for (const task of waiting) {
      this.#settleAborted(task);
      here.push(task.msgId);
    }
    const abortedHere = new Set(here);
    const ids = named ? named.filter((id) => !abortedHere.has(id)) : Array.from(this.#tasks.keys());
    // Direct tasks are queued on their engines without the controller's hand: asked there at once (the controller asks too, once it knows them).
    this.#abortDirect(ids);
    for (const part of inParts(ids)) {
      const reply = await this.#request<"abort_request", "abort_reply">("abort_request", { msgIds: part });
      for (const id of reply.content.aborted) here.push(id);
    }
    return here;
  }

  #abortDirect(ids: readonly string[]): void {
    if (this.#directTasks.size === 0) return;
    const perEngine = new Map<number, string[]>();
    for (const id of ids) {
      const engine = this.#directTasks.get(id);
      if (engine === undefined) continue;
      let list = perEngine.get(engine);
      if (!list) perEngine.set(engine, (list = []));
      list.push(id);
    }
    for (const [engine, msgIds] of perEngine) {
      const link = this.#links.get(engine);
      if (link?.state === "ready") link.send("abort_request", { msgIds });
    }
  }

  #settleAborted({ msgId, result, index }: Waiting): void {
    const error = new TaskAbortedError(msgId);
    result._tasks.update(index, { status: "aborted", error });
    result._settle(index, undefined, error);
  }

  /** The record of any task the controller still knows (from this or another client). */
  async getResult(msgId: string): Promise<TaskRecordInfo & { value?: unknown }> {
    const reply = await this.#request<"result_request", "result_reply">("result_request", { msgIds: [msgId] });
    const record = reply.content.records[0];
    if (!record) throw new Error(`the controller has no record of task ${msgId}`);
    if (record.bufferCount > 0) return { ...record, value: unpackValue(reply.buffers.slice(0, record.bufferCount)) };
    return record;
  }

  /**
   * Records of the controller's task store that match `filter` (ipyparallel's `db_query`): a plain
   * value means equality (null: absent), or operators `$lt $gt $lte $gte $eq $ne $in $nin $exists`.
   * Only `keys` are returned (all by default); msgId always is. Values are not included: use getResult.
   */
  async dbQuery<K extends TaskDbKey>(filter: TaskDbFilter, keys?: K[] | K): Promise<(Pick<TaskDbRecord, K | "msgId">)[]> {
    const list = keys === undefined ? undefined : Array.isArray(keys) ? keys : [keys];
    // Many records come in pieces (no one reply of everything), joined here in order.
    const records: Partial<TaskDbRecord>[] = [];
    const join = (part: Partial<TaskDbRecord>[]) => {
      for (const record of part) records.push(record);
    };
    const reply = await this.#request<"db_query_request", "db_query_reply">("db_query_request", { filter, ...(list ? { keys: list } : {}) }, (piece) => join(piece.content.records));
    join(reply.content.records);
    return records as Pick<TaskDbRecord, K | "msgId">[];
  }

  /**
   * Runs tasks of the controller's store again (finished, failed or still running; submitted by any
   * client), load-balanced, under new msgIds. The result has one value per task, in order; it fails
   * as a whole when the controller refuses (an unknown msgId, arguments not stored).
   */
  resubmit(msgIds: string[] | AsyncResult<unknown>): AsyncResult<unknown[]> {
    if (this.#closed) throw new Error("the client is closed");
    const ids = msgIds instanceof AsyncResult ? [...msgIds.msgIds] : msgIds;
    const newIds = ids.map(() => newMessageId());
    const tasks = new TaskTable({ msgIds: newIds, kind: "apply", submitted: Date.now() });
    const result = new AsyncResult<unknown[]>(this, tasks, (values) => values);
    // Tracked before the request leaves: results may follow the reply at once.
    newIds.forEach((msgId, index) => this.#tasks.set(msgId, { result: result as AsyncResult<unknown>, index }));
    this.#historyLater.push(newIds);
    // Two id lists per request: half as many ids per part.
    const half = IDS_PER_REQUEST / 2;
    for (let at = 0; at < ids.length || at === 0; at += half) {
      const end = Math.min(ids.length, at + half);
      this.#request<"resubmit_request", "resubmit_reply">("resubmit_request", { msgIds: ids.slice(at, end), newMsgIds: newIds.slice(at, end) }).then(
        (reply) => {
          for (let index = at; index < end; index++) {
            const kind = reply.content.kinds[newIds[index]!];
            if (kind) tasks.update(index, { kind });
          }
        },
        (err: Error) => {
          for (let index = at; index < end; index++) {
            if (!this.#tasks.delete(newIds[index]!)) continue;
            tasks.update(index, { error: err });
            result._settle(index, undefined, err);
          }
        },
      );
      if (ids.length === 0) break;
    }
    return result;
  }

  /** Makes the controller forget finished tasks (their records and results): these, or "all". Returns how many. */
  async purgeResults(msgIds: string[] | AsyncResult<unknown> | "all"): Promise<number> {
    const ids = msgIds instanceof AsyncResult ? [...msgIds.msgIds] : msgIds;
    if (ids === "all") return (await this.#request<"purge_request", "purge_reply">("purge_request", { msgIds: ids })).content.purged;
    let purged = 0;
    for (const part of inParts(ids)) purged += (await this.#request<"purge_request", "purge_reply">("purge_request", { msgIds: part })).content.purged;
    return purged;
  }

  /** Every task id the controller knows, oldest first; with `label`, only those submitted with it. */
  async controllerHistory({ label }: { label?: string } = {}): Promise<string[]> {
    const msgIds: string[] = [];
    const join = (part: string[]) => {
      for (const id of part) msgIds.push(id);
    };
    const reply = await this.#request<"history_request", "history_reply">("history_request", label === undefined ? {} : { label }, (piece) => join(piece.content.msgIds));
    join(reply.content.msgIds);
    return msgIds;
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
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    this.#failOutstanding(() => new ControllerError("the client was closed before the task finished"));
    if (Client.#active === this) Client.#active = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /**
   * What this client knows of its controller without asking it: `connected`, `silent` (nothing heard
   * for longer than `controllerTimeout`), `shut down` (it announced its shutdown), or `closed` (this client).
   */
  get controllerState(): "connected" | "silent" | "shut down" | "closed" {
    if (this.#closed) return "closed";
    if (this.#shutdownAt) return "shut down";
    return Date.now() - this.#link.lastHeard > this.#controllerTimeout ? "silent" : "connected";
  }

  /**
   * Message ids of this client's tasks that have not finished yet (a copy; ipyparallel's `outstanding`).
   * A task held back for its dependencies joins once it is sent; `rc.wait(ar)` covers it before that.
   */
  get outstanding(): Set<string> {
    const ids = new Set(this.#tasks.keys());
    for (const id of this.#unsent.ids()) ids.add(id);
    return ids;
  }

  /** @internal Tasks of this client in flight (sent, not answered) and waiting to be sent: what it holds per task. */
  get _taskCounts(): { inFlight: number; unsent: number } {
    return { inFlight: this.#tasks.size, unsent: this.#unsent.msgIds };
  }

  /** The task with this msg id if it is still outstanding: in flight, or not sent yet. */
  #pending(msgId: string): Tracked | undefined {
    const tracked = this.#tasks.get(msgId);
    if (tracked) return tracked;
    const waiting = this.#unsent.find(msgId);
    return waiting && !waiting.result._isSettled(waiting.index) ? waiting : undefined;
  }

  /**
   * Waits for tasks of this client: all outstanding ones, or the given results, msg ids or indexes
   * into `history`. Resolves true when they are done, false when `timeoutMs` passed first (ipyparallel's
   * `rc.wait`). Failed tasks count as done; nothing is thrown.
   */
  async wait(jobs?: Job | readonly Job[], timeoutMs?: number): Promise<boolean> {
    const list: readonly Job[] = jobs === undefined ? [] : Array.isArray(jobs) ? jobs : [jobs as Job];
    const ids = jobs === undefined ? [] : this.#jobIds(list.filter((job): job is string | number => !(job instanceof AsyncResult)));
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    // Every outstanding task: waiting for the calls they belong to is waiting for them (a call's tasks done already are done).
    const results: AsyncResult<unknown>[] = jobs === undefined ? this.#outstandingResults() : list.filter((job): job is AsyncResult<unknown> => job instanceof AsyncResult);
    // A result waits for itself: it also covers tasks still held back for their dependencies.
    for (const result of results) {
      if (!(await result.wait(deadline === Infinity ? undefined : Math.max(0, deadline - Date.now())))) return false;
    }
    for (const id of ids) {
      for (let tracked = this.#pending(id); tracked; tracked = this.#pending(id)) {
        if (!(await tracked.result._nextArrivalBefore(deadline))) return ids.every((other) => !this.#pending(other));
      }
    }
    return true;
  }

  #outstandingResults(): AsyncResult<unknown>[] {
    const results = new Set<AsyncResult<unknown>>();
    for (const tracked of this.#tasks.values()) results.add(tracked.result);
    for (const result of this.#unsent.results()) results.add(result);
    return [...results];
  }

  #jobIds(jobs: readonly (string | number)[]): string[] {
    return jobs.flatMap((job) => {
      if (typeof job === "number") {
        const id = this.history.at(job);
        if (id === undefined) throw new RangeError(`no task at history index ${job} (${this.history.length} submitted)`);
        return [id];
      }
      return [job];
    });
  }

  [inspect.custom](depth: number, options: InspectOptions, show: typeof inspect): string {
    const state = { profile: this.profile, url: this.url, controller: this.controllerState, engines: this.ids, outstanding: this.#tasks.size + this.#unsent.msgIds, submitted: this.#history.length + this.#historyLater.reduce((n, ids) => n + (isBlock(ids) ? ids.count : ids.length), 0) };
    return `Client ${show(state, { ...options, depth: Math.max(depth, 1) })}`;
  }

  /** Results and bytes of result frames this client received, values fetched later included (what bringing results here cost). */
  get received(): { results: number; resultBytes: number } {
    return { ...this.#received };
  }

  /** @internal The value of a task that stayed at the controller because other tasks took it as an argument. */
  async _fetchValue(msgId: string): Promise<unknown> {
    const reply = await this.#request<"result_request", "result_reply">("result_request", { msgIds: [msgId] });
    const record = reply.content.records[0];
    if (!record || record.bufferCount === 0) {
      throw new Error(`the value of task ${msgId} went on to the tasks that took it as an argument and the controller no longer keeps it (over its size caps)`);
    }
    const frames = reply.buffers.slice(0, record.bufferCount);
    this.#received.results++;
    for (const frame of frames) this.#received.resultBytes += frame.length;
    return unpackValue(frames);
  }

  /** @internal Whether the task was handed over for sending (not held back for its dependencies). */
  _submitted(msgId: string): boolean {
    return this.#tasks.has(msgId) || this.#unsent.find(msgId) !== undefined;
  }

  /** @internal As _resolveTargets("all"), without making the list: throws when no engine is alive. */
  _checkAnyEngine(): void {
    if (this.controllerLost !== null) return void this._resolveTargets("all");
    // The live engine found last time, while it is still that id's entry and alive: no Map iterator
    // per apply (a fresh client runs this interpreted, where the iterator and its results are objects).
    const last = this.#liveEngine;
    if (last !== undefined && last.state !== "dead" && last.state !== "stopped" && this.#engines.get(last.id) === last) return;
    for (const engine of this.#engines.values()) {
      if (engine.state !== "dead" && engine.state !== "stopped") {
        this.#liveEngine = engine;
        return;
      }
    }
    this.#liveEngine = undefined;
    this._resolveTargets("all");
  }

  /** An engine _checkAnyEngine found alive (checked again on each use). */
  #liveEngine: EngineInfo | undefined;

  /** @internal Targets resolved now: throws NoEnginesError when there is nothing to run on. */
  _resolveTargets(targets: number | number[] | "all"): number[] {
    const lost = this.controllerLost;
    if (lost) throw new ControllerError(`${lost} (profile ${this.profile}); connect again once a cluster runs`);
    // One live engine (a DirectView on one engine, every call): no list of the live ones made.
    if (typeof targets === "number") {
      const engine = this.#engines.get(targets);
      if (engine && engine.state !== "dead" && engine.state !== "stopped") return [targets];
    }
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

  /**
   * @internal The wire reference for a function; its source travels once per message (see SubmitQueue).
   * One object per shipped function: the tasks of a batch then share it, and the batch's FunctionTable
   * finds it by identity instead of adding a Map entry per task.
   */
  _functionRef(fn: ShippedFunction): FunctionRef {
    let ref = functionRefs.get(fn);
    if (!ref) functionRefs.set(fn, (ref = { hash: fn.hash, name: fn.name, source: fn.source }));
    return ref;
  }

  /**
   * @internal Queues tasks (sent together at the end of this tick) and tracks their result. A task for
   * an engine this client has a ready direct link to goes straight there (see #goesDirect); the others
   * go to the controller, in runs of consecutive targets.
   */
  _submit<R extends AsyncResult<unknown>>(specs: TaskSpec[], make: (tasks: TaskTable, owner: TaskOwner) => R, label?: string, route?: { gather?: boolean }): R {
    this.#checkSubmit(label);
    if (specs.length === 1) {
      const spec = specs[0]!;
      if (spec.targets === null) return this.#submitBalancedOne(spec, make, label);
      const link = spec.targets.length === 1 ? this.#goesDirect(spec.targets[0]!, spec.body) : undefined;
      if (link) return this.#submitDirectOne(spec, link, make, label);
    }
    const tasks: { msgId: string; kind: TaskSpec["body"]["kind"]; engineId: number | null }[] = [];
    const outgoing: { request: TaskRequest; frames: Buffer[] }[] = [];
    const firsts: number[] = [];
    const direct: { link: DirectLink; task: DirectTask; frames: Buffer[]; index: number }[] = [];
    for (const spec of specs) {
      const count = spec.targets === null ? 1 : spec.targets.length;
      const start = tasks.length;
      for (let i = 0; i < count; i++) {
        const msgId = spec.msgIds?.[i] ?? newMessageId();
        tasks.push({ msgId, kind: spec.body.kind, engineId: spec.targets?.[i] ?? null });
      }
      // A run of consecutive targets that go through the controller: one request.
      let run: number[] = [];
      const endRun = () => {
        if (run.length === 0) return;
        const msgIds = run.map((i) => tasks[start + i]!.msgId);
        const targets = spec.targets === null ? null : run.map((i) => spec.targets![i]!);
        const request = this.#taskRequest(spec, msgIds, targets, label, spec.broadcast === true && run.length > 1);
        firsts.push(start + run[0]!);
        outgoing.push({ request, frames: spec.frames });
        if (targets && this.#directWanted) for (let k = 0; k < targets.length; k++) this.#routed(targets[k]!, msgIds[k]!);
        run = [];
      };
      // A broadcast the controller should gather goes there, unless this client has direct tasks on one of its
      // engines still out (then each engine's part goes the way its earlier tasks went, to keep their order).
      const gathered = route?.gather === true && spec.broadcast === true && count > 1 && !spec.targets!.some((t) => this.#directCount.has(t));
      for (let i = 0; i < count; i++) {
        const link = spec.targets === null || gathered ? undefined : this.#goesDirect(spec.targets[i]!, spec.body);
        if (!link) {
          run.push(i);
          continue;
        }
        endRun();
        const task: DirectTask = { msgId: tasks[start + i]!.msgId, body: spec.body, bufferCount: spec.frames.length, ...(label !== undefined ? { label } : {}) };
        direct.push({ link, task, frames: spec.frames, index: start + i });
      }
      endRun();
    }
    const result = make(TaskTable.of(tasks, Date.now(), label), this);
    // The controller orders its history by submission time; a routed task's is when the controller got it.
    // A microsecond apart (what a double holds at epoch ms), so the tasks of one call keep their order there too.
    let submitted = direct.length ? TIME_ORIGIN + performance.now() : 0;
    for (const { link, task, frames, index } of direct) {
      task.submitted = submitted;
      submitted += 0.001;
      this.#queueDirect(link, task, frames, result as AsyncResult<unknown>, index);
    }
    return this.#enqueue(result, new BuiltTasks(result as AsyncResult<unknown>, outgoing, firsts));
  }

  /**
   * One task for one engine this client reaches directly (a DirectView apply or execute on one engine):
   * what _submit does for it, without the runs, closures and arrays of the general case.
   */
  #submitDirectOne<R extends AsyncResult<unknown>>(spec: TaskSpec, link: DirectLink, make: (tasks: TaskTable, owner: TaskOwner) => R, label: string | undefined): R {
    const msgId = spec.msgIds?.[0] ?? newMessageId();
    const result = make(new TaskTable({ msgIds: [msgId], kind: spec.body.kind, submitted: Date.now(), label, engineIds: [link.engineId] }), this);
    const task: DirectTask = { msgId, body: spec.body, bufferCount: spec.frames.length };
    if (label !== undefined) task.label = label;
    task.submitted = TIME_ORIGIN + performance.now();
    this.#queueDirect(link, task, spec.frames, result as AsyncResult<unknown>, 0);
    // Nothing for the controller: only the history and the flush at the end of this tick.
    this.#historyLater.push(result._tasks.idSource);
    this.#queueFlush();
    return result;
  }

  /** A direct task in flight from now: tracked as this client's and its engine's, sent with its link's request at the flush. */
  #queueDirect(link: DirectLink, task: DirectTask, frames: Buffer[], result: AsyncResult<unknown>, index: number): void {
    this.#tasks.set(task.msgId, { result, index });
    this.#directTasks.set(task.msgId, link.engineId);
    this.#directCount.set(link.engineId, (this.#directCount.get(link.engineId) ?? 0) + 1);
    const out = this.#directOut.get(link);
    if (!out) this.#directOut.set(link, { tasks: [task], frames: frames.slice() });
    else {
      out.tasks.push(task);
      for (let i = 0; i < frames.length; i++) out.frames.push(frames[i]!);
    }
  }

  /**
   * One load-balanced task (an apply, an execute): what _submit does for it, without the per-call
   * machinery of runs and direct links it never needs (thousands of tiny applies a second come here).
   */
  #submitBalancedOne<R extends AsyncResult<unknown>>(spec: TaskSpec, make: (tasks: TaskTable, owner: TaskOwner) => R, label: string | undefined): R {
    // One array for the request and the table: neither changes it. Array.of, not a literal: it lives as
    // long as its task, and a literal's allocation site that V8 decides to pretenure deoptimizes this
    // function and what inlined it (a fresh client recompiled them twice in its first 10,000 applies).
    const msgIds = Array.of(spec.msgIds?.[0] ?? newMessageId());
    const request = this.#taskRequest(spec, msgIds, null, label, false);
    const result = make(new TaskTable({ msgIds, kind: spec.body.kind, submitted: Date.now(), label }), this);
    return this.#enqueue(result, new OneTask(result as AsyncResult<unknown>, request, spec.frames));
  }

  /** The submit_request entry for one spec's tasks (msgIds and targets in the same order). */
  #taskRequest(spec: TaskSpec, msgIds: string[], targets: number[] | null, label: string | undefined, broadcast: boolean): TaskRequest {
    const request: TaskRequest = { msgIds, targets, body: spec.body, bufferCount: spec.frames.length };
    if (spec.lb) request.lb = spec.lb;
    if (label !== undefined) request.label = label;
    if (broadcast) request.broadcast = true;
    const directInputs = this.#directInputs(spec.body);
    if (directInputs) request.directInputs = directInputs;
    return request;
  }

  /**
   * The ready direct link a task for `engineId` takes, or undefined for the controller's route. A
   * client's messages to one engine stay in order: a task goes direct only once every targeted task
   * sent to that engine through the controller is answered, and nothing waits unsent here. Tasks that
   * take other tasks' results (futures) need the controller, which holds them until those are done.
   */
  #goesDirect(engineId: number, body: TaskBody): DirectLink | undefined {
    if (!this.#directWanted || this.#clientId === undefined) return undefined;
    const link = this.#linkTo(engineId);
    if (link?.state !== "ready") return undefined;
    if (body.kind === "apply" && body.futures) return undefined;
    if (this.#unsent.msgIds > 0) return undefined;
    const routed = this.#routedTo.get(engineId);
    if (routed) {
      for (const id of routed) if (!this.#tasks.has(id)) routed.delete(id);
      if (routed.size > 0) return undefined;
      this.#routedTo.delete(engineId);
    }
    return link;
  }

  #directDone(msgId: string): void {
    const engine = this.#directTasks.get(msgId);
    if (engine === undefined) return;
    this.#directTasks.delete(msgId);
    const left = (this.#directCount.get(engine) ?? 1) - 1;
    if (left > 0) this.#directCount.set(engine, left);
    else this.#directCount.delete(engine);
  }

  /** The futures of an apply that are direct tasks in flight: the controller waits for their engines' report. */
  #directInputs(body: TaskBody): [string, number][] | undefined {
    if (body.kind !== "apply" || !body.futures || this.#directTasks.size === 0) return undefined;
    const found: [string, number][] = [];
    for (const [, msgId] of body.futures) {
      const engine = this.#directTasks.get(msgId);
      if (engine !== undefined) found.push([msgId, engine]);
    }
    return found.length ? found : undefined;
  }

  /** Only for engines with a direct socket: the others never take direct work. Bounded by the tasks in flight. */
  #routed(engineId: number, msgId: string): void {
    if (!this.#engines.get(engineId)?.direct) return;
    let set = this.#routedTo.get(engineId);
    if (!set) this.#routedTo.set(engineId, (set = new Set()));
    if (set.size >= (this.#routedPruneAt.get(engineId) ?? 256)) {
      const waiting = new Set(this.#unsent.ids());
      for (const id of set) if (!this.#tasks.has(id) && !waiting.has(id)) set.delete(id);
      // What is still out after a prune sets the next one further off: never a scan per task.
      this.#routedPruneAt.set(engineId, Math.max(256, 2 * set.size));
    }
    set.add(msgId);
  }

  /** This client's direct link to an engine, opened on first use; undefined when the engine has no direct socket. */
  #linkTo(engineId: number): DirectLink | undefined {
    if (!this.#directWanted || this.#closed) return undefined;
    const existing = this.#links.get(engineId);
    if (existing) return existing;
    // Each link is a socket (and its descriptors): past this many, engines are served through the controller.
    if (this.#links.size >= MAX_DIRECT_LINKS && [...this.#links.values()].filter((l) => l.state !== "failed").length >= MAX_DIRECT_LINKS) return undefined;
    const engine = this.#engines.get(engineId);
    if (!engine?.direct || !engine.uuid || engine.state === "dead" || engine.state === "stopped") return undefined;
    const link = new DirectLink(engineId, engine.uuid, engine.direct, this.#link.info, this.#link.signer, this.#link.session, {
      onMessage: (msg) => this.#onMessage(msg),
      onStateChange: () => {},
    });
    this.#links.set(engineId, link);
    return link;
  }

  /** The engine died or stopped: its direct link goes, and its direct tasks fail as the controller fails routed ones. */
  #engineGone(engineId: number, verb: "died" | "stopped"): void {
    const link = this.#links.get(engineId);
    if (link) {
      link.close();
      this.#links.delete(engineId);
    }
    this.#routedTo.delete(engineId);
    this.#routedPruneAt.delete(engineId);
    if (this.#directTasks.size === 0) return;
    const now = Date.now();
    for (const [msgId, engine] of this.#directTasks) {
      if (engine !== engineId) continue;
      const error = { ename: "EngineError", evalue: `engine ${engineId} ${verb} while running this task`, traceback: [] };
      this.#settle({ msgId, engineId, status: "error", started: now, completed: now, bufferCount: 0, error }, [], now);
    }
  }

  /**
   * @internal Queues `count` load-balanced tasks of one kind, one msg id each, whose requests `source`
   * builds only as they are sent (a big map): see MapTasks.
   */
  _submitLazy<R extends AsyncResult<unknown>>(
    count: number,
    kind: TaskSpec["body"]["kind"],
    source: TaskSource & { attach(result: AsyncResult<unknown>): void },
    make: (tasks: TaskTable, owner: TaskOwner) => R,
    label?: string,
  ): R {
    this.#checkSubmit(label);
    const result = make(new TaskTable({ msgIds: reserveMessageIds(count), kind, submitted: Date.now(), label }), this);
    source.attach(result as AsyncResult<unknown>);
    return this.#enqueue(result, source);
  }

  #checkSubmit(label: string | undefined): void {
    if (label !== undefined && (typeof label !== "string" || label.length > 256)) throw new TypeError("a task label must be a string of at most 256 characters");
    if (this.#closed) throw new Error("the client is closed");
  }

  #enqueue<R extends AsyncResult<unknown>>(result: R, source: TaskSource): R {
    this.#historyLater.push(result._tasks.idSource);
    this.#unsent.push(source);
    this.#queueFlush();
    return result;
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(this.#flushLater);
  }

  readonly #flushLater = (): void => this.#flush();

  /** Requests go after any submissions of this tick, so that they see those tasks (abort, queue status). */
  #request<T extends MessageType, R extends MessageType>(type: T, content: MessageContents[T], onPiece?: (msg: Message<MessageContents[R]>) => void): Promise<Message<MessageContents[R]>> {
    this.#flush();
    return this.#link.request<T, R>(type, content, this.#requestTimeout, {}, onPiece);
  }

  /**
   * Sends what was submitted, at most SUBMIT_BATCH tasks per message (the controller decodes a message
   * in one go, and a 200,000-task message would hold its loop for seconds), and only while fewer than
   * MAX_IN_FLIGHT tasks are sent and unanswered; results make room for more.
   */
  #flush(): void {
    this.#flushQueued = false;
    if (this.#closed) return;
    if (this.#directOut.size) this.#flushDirect();
    // Not smaller first messages: a first one of 256 or 1,024 tasks let the controller start 10-30 ms
    // sooner on a 5,000-item map, but cost the controller 3-6 µs more per task and 10-18% more wall
    // time over the whole map in A/B runs (bench/README, round 7).
    while (this.#unsent.msgIds > 0) {
      const room = MAX_IN_FLIGHT - this.#tasks.size;
      if (room <= 0) return;
      const { tasks, frames, fns } = this.#unsent.take(Math.min(SUBMIT_BATCH, room), this.#tasks);
      if (tasks.length === 0) return;
      this.#link.send("submit_request", fns ? { tasks, fns } : { tasks }, { buffers: frames });
    }
  }

  /** One direct_request per link: a function's source once in each (the engine keeps a cache of its own for them). */
  #flushDirect(): void {
    for (const [link, { tasks, frames }] of this.#directOut) {
      const sources = tasks.length > 1 ? new Set<string>() : undefined;
      if (sources) for (let i = 0; i < tasks.length; i++) {
        const body = tasks[i]!.body;
        if ((body.kind !== "apply" && body.kind !== "map") || body.fn.source === undefined) continue;
        if (!sources.has(body.fn.hash)) sources.add(body.fn.hash);
        else tasks[i] = { ...tasks[i]!, body: { ...body, fn: { hash: body.fn.hash, name: body.fn.name } } };
      }
      // Idle: none of this client's direct tasks besides these is out on that engine (the link may change connection).
      const idle = (this.#directCount.get(link.engineId) ?? 0) === tasks.length;
      link.send("direct_request", { client: this.#clientId!, tasks }, { buffers: frames }, idle);
    }
    this.#directOut.clear();
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
    const buffers = msg.buffers;
    // Checked whole before any result settles, as splitFrames would (a bad count drops the message).
    let total = 0;
    for (let i = 0; i < results.length; i++) {
      const count = results[i]!.bufferCount;
      if (!Number.isInteger(count) || count < 0) throw new SerializationError("message buffer counts do not match its frames");
      total += count;
    }
    if (total > buffers.length) throw new SerializationError("message buffer counts do not match its frames");
    const received = Date.now();
    this.#received.results += results.length;
    let bytes = 0;
    for (let i = 0; i < buffers.length; i++) bytes += buffers[i]!.length;
    this.#received.resultBytes += bytes;
    for (let i = 0, at = 0; i < results.length; i++) {
      const count = results[i]!.bufferCount;
      this.#settle(results[i]!, count === 0 ? NO_FRAMES : buffers.slice(at, at + count), received);
      at += count;
    }
    // Answers make room in the in-flight window for tasks still waiting here.
    if (this.#unsent.msgIds) this.#flush();
  }

  #settle(result: TaskResult, frames: Buffer[], received: number): void {
    const tracked = this.#tasks.get(result.msgId);
    if (!tracked) return;
    this.#tasks.delete(result.msgId);
    if (this.#directTasks.size) this.#directDone(result.msgId);
    const table = tracked.result._tasks;
    const index = tracked.index;
    table.finish(index, result.engineId, result.started, result.completed, received, result.status);
    if (result.stdout) table.appendOutput(index, "stdout", result.stdout);
    if (result.stderr) table.appendOutput(index, "stderr", result.stderr);
    if (result.executionCount !== undefined) table.update(index, { executionCount: result.executionCount });
    if (result.repr !== undefined) table.update(index, { repr: result.repr });
    const kind = table.kind(index);
    let value: unknown;
    let error: Error | undefined;
    if (result.held && result.status === "ok") {
      tracked.result._settleHeld(index);
      return;
    }
    if (result.status === "aborted") error = new TaskAbortedError(result.msgId);
    else if (result.status === "error") {
      const info = result.error ?? { ename: "Error", evalue: "the engine reported an error without details", traceback: [] };
      error = remoteErrorFrom({ ...info, engineId: result.engineId }, result.msgId, kind);
    }
    else if (result.bufferCount > 0) {
      try {
        value = tracked.result._unpack(frames);
      } catch (err) {
        error = err as Error;
      }
    }
    if (error) table.update(index, { error });
    tracked.result._settle(index, value, error);
  }

  /**
   * The controller was restarted (a new pid on the same address): results sent while it was down are
   * lost, so ask the new one for the records of every task still outstanding here. The store has the
   * finished ones and the tasks it failed at restart; ones it never heard of fail here.
   */
  async #recoverAfterRestart(): Promise<void> {
    // Direct tasks too: their records failed with the controller (ControllerRestarted) as routed ones did,
    // and an engine that went down with it would never say so.
    const ids = [...this.#tasks.keys()];
    for (let at = 0; at < ids.length && !this.#closed; at += RECOVER_BATCH) {
      const batch = ids.slice(at, at + RECOVER_BATCH);
      let reply: Message<MessageContents["result_reply"]>;
      try {
        reply = await this.#request<"result_request", "result_reply">("result_request", { msgIds: batch });
      } catch {
        return; // The watchdog fails them if the controller stays silent.
      }
      const received = Date.now();
      const groups = splitFrames(reply.buffers, reply.content.records.map((r) => r.bufferCount));
      reply.content.records.forEach((record, i) => {
        if (record.pending || record.status === undefined) return;
        const { msgId, engineId, status, started, completed, error, stdout, stderr, repr, executionCount, bufferCount } = record;
        this.#settle({ msgId, engineId: engineId ?? -1, status, started: started ?? completed ?? received, completed: completed ?? received, bufferCount, ...(error ? { error } : {}), ...(stdout ? { stdout } : {}), ...(stderr ? { stderr } : {}), ...(repr !== undefined ? { repr } : {}), ...(executionCount !== undefined ? { executionCount } : {}) }, groups[i]!, received);
      });
      const unknown = (reply.metadata as { unknown?: unknown }).unknown;
      if (Array.isArray(unknown)) {
        for (const msgId of unknown) {
          if (typeof msgId !== "string" || !this.#tasks.has(msgId)) continue;
          const tracked = this.#tasks.get(msgId)!;
          this.#tasks.delete(msgId);
          this.#directDone(msgId);
          const error = new ControllerError(`the controller at ${this.url} was restarted and has no record of task ${msgId}`);
          tracked.result._tasks.update(tracked.index, { error });
          tracked.result._settle(tracked.index, undefined, error);
        }
      }
    }
  }

  #onStream(msg: Message<MessageContents["stream"]>): void {
    for (const item of msg.content.items) {
      const tracked = this.#tasks.get(item.msgId);
      if (!tracked) continue;
      const table = tracked.result._tasks;
      if (item.name === "data") {
        const data = decodePublishedData(item.text);
        if (data) table.mergeData(tracked.index, data);
        continue;
      }
      if (item.name === "display") {
        const data = displayData(item.text);
        if (!data) continue;
        table.addDisplay(tracked.index, data);
        tracked.result._output({ ...item, name: item.name, index: tracked.index, data });
        continue;
      }
      table.appendOutput(tracked.index, item.name, item.text);
      tracked.result._output({ ...item, name: item.name, index: tracked.index });
    }
  }

  #onEvent(msg: Message): void {
    const type = msg.header.msg_type;
    switch (type) {
      case "engine_registered": {
        const { engine } = msg.content as MessageContents["engine_registered"];
        this.#engines.set(engine.id, engine);
        const link = this.#links.get(engine.id);
        // Another process, or a new address: the next use links again.
        if (link && (link.engineUuid !== engine.uuid || link.address.url !== engine.direct?.url || link.state === "failed")) {
          link.close();
          this.#links.delete(engine.id);
        }
        break;
      }
      case "engine_dead": {
        const { id } = msg.content as MessageContents["engine_dead"];
        this.#markGone(id, "dead");
        this.#engineGone(id, "died");
        break;
      }
      case "engine_unregistered": {
        const { id } = msg.content as MessageContents["engine_unregistered"];
        this.#markGone(id, "stopped");
        this.#engineGone(id, "stopped");
        break;
      }
      case "cluster_snapshot":
        this.#mergeSnapshot(msg.content as ClusterSnapshot);
        break;
      case "controller_heartbeat": {
        const { pid } = msg.content as MessageContents["controller_heartbeat"];
        if (this.#controllerPid !== undefined && pid !== this.#controllerPid) {
          if (this.#tasks.size > 0) void this.#recoverAfterRestart();
          // A new controller knows this client by a new identity: asked again for direct requests to name.
          if (this.#directWanted) void this.#refreshEngines().catch(() => undefined);
        }
        this.#controllerPid = pid;
        // Heartbeats queued before the shutdown arrive with it; one seconds later is a controller back on its ports.
        if (this.#shutdownAt && Date.now() - this.#shutdownAt > RESTARTED_AFTER_MS) this.#shutdownAt = 0;
        break;
      }
      case "controller_shutdown":
        this.#shutdownAt = Date.now();
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
      const info: EngineInfo = { id: e.id, uuid: known?.uuid ?? "", hostname: e.hostname, pid: e.pid, state: e.state, registered: known?.registered ?? snapshot.time };
      const metadata = e.metadata ?? known?.metadata;
      if (metadata) info.metadata = metadata;
      if (known?.direct) info.direct = known.direct;
      this.#engines.set(e.id, info);
    }
  }

  #setEngines(engines: EngineInfo[]): void {
    for (const engine of engines) this.#engines.set(engine.id, engine);
  }

  async #refreshEngines(): Promise<void> {
    const reply = await this.#request<"connect_request", "connect_reply">("connect_request", {});
    this.#setEngines(reply.content.engines);
    if (reply.content.client !== undefined) this.#clientId = reply.content.client;
  }

  #markGone(id: number, state: "dead" | "stopped"): void {
    const engine = this.#engines.get(id);
    if (engine) engine.state = state;
  }

  #checkController(timeoutMs: number): void {
    if (this.#tasks.size === 0 && this.#unsent.msgIds === 0) return;
    const silentFor = Date.now() - this.#link.lastHeard;
    if (silentFor > timeoutMs) {
      this.#failOutstanding(() => new ControllerError(`no word from the controller at ${this.url} for ${Math.round(silentFor / 1000)} s: is it still running?`));
    }
  }

  #failOutstanding(makeError: () => Error): void {
    const fail = ({ result, index }: Tracked, error: Error) => {
      result._tasks.update(index, { error });
      result._settle(index, undefined, error);
    };
    // Tasks never sent share one error per call: a million of them must not cost a million stack traces.
    const perCall = new Map<AsyncResult<unknown>, Error>();
    for (const task of this.#unsent.remove()) {
      let error = perCall.get(task.result);
      if (!error) perCall.set(task.result, (error = makeError()));
      fail(task, error);
    }
    for (const [msgId, tracked] of this.#tasks) {
      this.#tasks.delete(msgId);
      fail(tracked, makeError());
    }
    this.#directTasks.clear();
    this.#directCount.clear();
  }
}

/** The MIME bundle of a "display" stream item; undefined for one that is not well formed (dropped). */
function displayData(text: string): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(text) as { data?: unknown };
    return parsed && typeof parsed.data === "object" && parsed.data !== null && !Array.isArray(parsed.data) ? (parsed.data as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
