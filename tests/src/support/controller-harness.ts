/**
 * Plays engines and clients against a real `tspcontroller` process, over real ZeroMQ sockets and the
 * real protocol package. Nothing is mocked: the test side speaks the wire protocol itself, which lets a
 * test do what a real engine would not (stop heartbeating, answer late, send a forged message).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import * as zmq from "zeromq";
import {
  EVENTS_RENEW_MS,
  curveClientOptions,
  encodeMessage,
  newHeader,
  MessageSender,
  Signer,
  readConnectionFile,
  receiveMessages,
  url,
  type ClientConnectionInfo,
  type EngineConnectionInfo,
  type EngineTask,
  type Logger,
  type Message,
  type MessageContents,
  type MessageType,
  type SendOptions,
  type StreamItem,
  type TaskRequest,
  type TaskResult,
  resolveFunctions,
  splitFrames,
} from "@tsparallel/protocol";
import { bins, tempProfileRoot } from "./paths.js";

const WAIT_MS = 10_000;
/** Task ids are unique across all clients of a test process, as real clients' ids are. */
let nextTaskNumber = 0;

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export type Typed<T extends MessageType> = Message<MessageContents[T]>;

/** Messages received on one socket, awaitable by predicate; every message also stays in `all`. */
export class Inbox {
  readonly all: Message[] = [];
  readonly #unclaimed: Message[] = [];
  readonly #waiters: { match(msg: Message): boolean; resolve(msg: Message): void }[] = [];

  constructor(socket: AsyncIterable<Buffer[]>, signer: Signer) {
    void this.#pump(socket, signer);
  }

  /** The first unclaimed message of this type matching, now or when it arrives; claims it. */
  next<T extends MessageType>(type: T, match: (msg: Typed<T>) => boolean = () => true, timeoutMs = WAIT_MS): Promise<Typed<T>> {
    return this.nextWhere((msg) => msg.header.msg_type === type && match(msg as Typed<T>), type, timeoutMs) as Promise<Typed<T>>;
  }

  nextWhere(match: (msg: Message) => boolean, what: string, timeoutMs = WAIT_MS): Promise<Message> {
    const at = this.#unclaimed.findIndex(match);
    if (at >= 0) return Promise.resolve(this.#unclaimed.splice(at, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (msg: Message) => {
          clearTimeout(timer);
          resolve(msg);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no ${what} arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  ofType<T extends MessageType>(type: T): Typed<T>[] {
    return this.all.filter((m) => m.header.msg_type === type) as Typed<T>[];
  }

  async #pump(socket: AsyncIterable<Buffer[]>, signer: Signer): Promise<void> {
    for await (const msg of receiveMessages(socket, signer, quiet)) {
      this.all.push(msg);
      const at = this.#waiters.findIndex((w) => w.match(msg));
      if (at >= 0) this.#waiters.splice(at, 1)[0]!.resolve(msg);
      else this.#unclaimed.push(msg);
    }
  }
}

export interface ReadyLine {
  ready: true;
  pid: number;
  clientFile: string;
  engineFile: string;
}

/** A spawned `tspcontroller` with a private TSPARALLEL_DIR. */
export class ControllerProcess {
  #stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly ready: ReadyLine,
    readonly profileRoot: string,
    private readonly cleanupDir: () => void,
    /** Everything the process printed on stdout, line by line. */
    readonly stdoutLines: string[],
  ) {
    child.stderr!.on("data", (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  static async start(args: string[] = []): Promise<ControllerProcess> {
    const { dir, cleanup } = tempProfileRoot();
    const child = spawn(process.execPath, [bins.controller, "--log-level", "debug", ...args], {
      env: { ...process.env, TSPARALLEL_DIR: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let early = "";
    child.stderr!.on("data", (chunk: Buffer) => (early += chunk.toString()));
    const stdoutLines: string[] = [];
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (text) => stdoutLines.push(text));
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line within ${WAIT_MS} ms; stderr:\n${early}`)), WAIT_MS);
      lines.once("line", (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      child.once("exit", (code) => reject(new Error(`controller exited (${code}) before its ready line; stderr:\n${early}`)));
    });
    const controller = new ControllerProcess(child, JSON.parse(line) as ReadyLine, dir, cleanup, stdoutLines);
    controller.#stderr = early;
    return controller;
  }

  get stderr(): string {
    return this.#stderr;
  }

  clientInfo(): ClientConnectionInfo {
    return readConnectionFile(this.ready.clientFile, "client");
  }

  engineInfo(): EngineConnectionInfo {
    return readConnectionFile(this.ready.engineFile, "engine");
  }

  /**
   * Kills the process if it still runs and removes its directory. SIGKILL, not SIGTERM: a graceful
   * shutdown waits for engines that test doubles never stop; the graceful path has tests of its own.
   */
  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
    this.cleanupDir();
  }
}

export interface ReceivedTask {
  task: EngineTask;
  frames: Buffer[];
}

/** An engine played by the test: an engine DEALER and a heartbeat DEALER, as tspengine has. */
export class FakeEngine {
  readonly inbox: Inbox;
  readonly beats: Inbox;
  readonly #dealer: zmq.Dealer;
  readonly #heart: zmq.Dealer;
  readonly #sender: MessageSender;
  readonly #beatSender: MessageSender;
  #beating?: NodeJS.Timeout;
  id = -1;
  heartbeatMs = 0;
  /** Every task received so far, in order. */
  readonly tasks: ReceivedTask[] = [];
  #taskCursor = 0;

  constructor(
    info: EngineConnectionInfo,
    readonly uuid: string = randomUUID(),
  ) {
    const signer = new Signer(info.key);
    this.#dealer = new zmq.Dealer({ routingId: `engine-${uuid}`, linger: 0, ...curveClientOptions(info) });
    this.#heart = new zmq.Dealer({ routingId: `heart-${uuid}`, linger: 0, ...curveClientOptions(info) });
    this.#dealer.connect(url(info, info.ports.engine));
    this.#heart.connect(url(info, info.ports.heartbeat));
    this.#sender = new MessageSender(this.#dealer, signer, uuid, quiet);
    this.#beatSender = new MessageSender(this.#heart, signer, uuid, quiet);
    this.inbox = new Inbox(this.#dealer, signer);
    this.beats = new Inbox(this.#heart, signer);
  }

  /** Connects, registers and starts heartbeating. */
  static async start(info: EngineConnectionInfo, uuid?: string): Promise<FakeEngine> {
    const engine = new FakeEngine(info, uuid);
    await engine.register();
    engine.startHeartbeats();
    return engine;
  }

  async register(timeoutMs = WAIT_MS): Promise<Typed<"registration_reply">> {
    // Registering again (an id is known) says which id it had, as tspengine does.
    const header = this.send("registration_request", { uuid: this.uuid, hostname: "test-host", pid: process.pid, version: "test", ...(this.id >= 0 ? { id: this.id } : {}) });
    const reply = await this.inbox.next("registration_reply", (m) => m.parent_header.msg_id === header.msg_id, timeoutMs);
    if (reply.content.status !== "ok") throw new Error(`registration refused: ${reply.content.message}`);
    this.id = reply.content.id;
    this.heartbeatMs = reply.content.heartbeatMs;
    return reply;
  }

  send<T extends MessageType>(type: T, content: MessageContents[T], options?: SendOptions) {
    return this.#sender.send(type, content, options);
  }

  startHeartbeats(): void {
    const beat = () =>
      this.#beatSender.send("heartbeat", { uuid: this.uuid, id: this.id, cpu: 1, rss: 50e6, heapUsed: 10e6, time: Date.now() });
    beat();
    this.#beating = setInterval(beat, this.heartbeatMs);
  }

  /** Falls silent, as a hung or killed engine does. */
  stopHeartbeats(): void {
    clearInterval(this.#beating);
  }

  /** Waits until at least `count` tasks have arrived in total; returns the ones not yet taken. */
  async takeTasks(count: number, timeoutMs = WAIT_MS): Promise<ReceivedTask[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.tasks.length < this.#taskCursor + count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`engine ${this.id}: ${this.tasks.length - this.#taskCursor} of ${count} tasks arrived`);
      this.#collect(await this.inbox.next("task_request", () => true, left));
    }
    const taken = this.tasks.slice(this.#taskCursor, this.#taskCursor + count);
    this.#taskCursor += count;
    return taken;
  }

  /** Claims task_request messages already received without waiting (for "got nothing more" checks). */
  async drainTasks(): Promise<void> {
    for (;;) {
      const msg = await this.inbox.next("task_request", () => true, 0).catch(() => undefined);
      if (!msg) return;
      this.#collect(msg);
    }
  }

  #collect(msg: Typed<"task_request">): void {
    // As an engine does: bodies name their function by index in the message's fns.
    const unresolved = resolveFunctions(msg.content.tasks, msg.content.fns);
    if (unresolved) throw new Error(unresolved);
    const groups = splitFrames(msg.buffers, msg.content.tasks.map((t) => t.bufferCount));
    msg.content.tasks.forEach((task, i) => this.tasks.push({ task, frames: groups[i]! }));
  }

  /** Replies "ok" to tasks, each result value being the given frames (none by default). */
  /** Answers tasks; `runMs` is the run time each result reports (started that long before completed). */
  reply(tasks: ReceivedTask[], frames: (t: ReceivedTask) => Buffer[] = () => [], status: TaskResult["status"] = "ok", runMs = 0): void {
    const results: TaskResult[] = [];
    const all: Buffer[] = [];
    for (const t of tasks) {
      const own = frames(t);
      const now = Date.now();
      results.push({ msgId: t.task.msgId, engineId: this.id, status, started: now - runMs, completed: now, bufferCount: own.length });
      all.push(...own);
    }
    this.send("task_reply", { results }, { buffers: all });
  }

  stream(items: Omit<StreamItem, "engineId">[]): void {
    this.send("stream", { items: items.map((i) => ({ ...i, engineId: this.id })) });
  }

  close(): void {
    this.stopHeartbeats();
    this.#sender.close();
    this.#beatSender.close();
    this.#dealer.close();
    this.#heart.close();
  }
}

/** A client played by the test: a DEALER for requests and results, a SUB for events. */
export class FakeClient {
  readonly inbox: Inbox;
  readonly events: Inbox;
  readonly #dealer: zmq.Dealer;
  readonly #sub: zmq.Dealer;
  readonly #sender: MessageSender;
  readonly #subscription: NodeJS.Timeout;

  constructor(readonly info: ClientConnectionInfo) {
    const signer = new Signer(info.key);
    this.#dealer = new zmq.Dealer({ linger: 0, ...curveClientOptions(info) });
    this.#sub = new zmq.Dealer({ linger: 0, ...curveClientOptions(info) });
    this.#dealer.connect(url(info, info.ports.client));
    this.#sub.connect(url(info, info.ports.events));
    this.#sender = new MessageSender(this.#dealer, signer, randomUUID(), quiet);
    // Events come to peers that subscribe with a signed message, renewed as the real client does.
    const subscriber = new MessageSender(this.#sub, signer, randomUUID(), quiet);
    subscriber.send("events_subscribe", {});
    this.#subscription = setInterval(() => subscriber.send("events_subscribe", {}), EVENTS_RENEW_MS);
    this.#subscription.unref();
    this.inbox = new Inbox(this.#dealer, signer);
    this.events = new Inbox(this.#sub, signer);
  }

  /** Connects and waits until the event subscription is live (a SUB misses what precedes its join). */
  static async start(info: ClientConnectionInfo): Promise<FakeClient> {
    const client = new FakeClient(info);
    await client.events.next("controller_heartbeat");
    return client;
  }

  /** Sends with another key: the controller must ignore the message. */
  sendForged<T extends MessageType>(type: T, content: MessageContents[T], options?: SendOptions): void {
    // Through the one sender: two senders on a socket could overlap their writes.
    const header = newHeader(type, "forger");
    this.#sender.sendFrames(encodeMessage(new Signer("not-the-key"), { header, content, buffers: options?.buffers }));
  }

  send<T extends MessageType>(type: T, content: MessageContents[T], options?: SendOptions) {
    return this.#sender.send(type, content, options);
  }

  /** A request and its reply; an error_reply rejects with "ename: evalue". */
  async request<R extends MessageType, T extends MessageType = MessageType>(type: T, content: MessageContents[T], options?: SendOptions): Promise<Typed<R>> {
    const header = this.send(type, content, options);
    const reply = await this.inbox.nextWhere((m) => m.parent_header.msg_id === header.msg_id, `reply to ${type}`);
    if (reply.header.msg_type === "error_reply") {
      const { ename, evalue } = reply.content as MessageContents["error_reply"];
      throw new Error(`${ename}: ${evalue}`);
    }
    return reply as Typed<R>;
  }

  newMsgId(): string {
    return `task-${process.pid}-${nextTaskNumber++}`;
  }

  /** Submits tasks in one submit_request; returns their msgIds in order (all targets of each task). */
  submit(tasks: (Omit<TaskRequest, "msgIds" | "bufferCount"> & { frames?: Buffer[] })[]): string[][] {
    const requests: TaskRequest[] = [];
    const frames: Buffer[] = [];
    for (const { frames: own = [], ...task } of tasks) {
      const msgIds = task.targets === null ? [this.newMsgId()] : task.targets.map(() => this.newMsgId());
      requests.push({ ...task, msgIds, bufferCount: own.length });
      frames.push(...own);
    }
    this.send("submit_request", { tasks: requests }, { buffers: frames });
    return requests.map((r) => r.msgIds);
  }

  /** Waits for the results of these msgIds; returns each with its own frames. */
  async results(msgIds: string[], timeoutMs = WAIT_MS): Promise<Map<string, { result: TaskResult; frames: Buffer[] }>> {
    const found = new Map<string, { result: TaskResult; frames: Buffer[] }>();
    const deadline = Date.now() + timeoutMs;
    const wanted = new Set(msgIds);
    const scan = () => {
      for (const msg of this.inbox.ofType("task_reply")) {
        const groups = splitFrames(msg.buffers, msg.content.results.map((r) => r.bufferCount));
        msg.content.results.forEach((result, i) => {
          if (wanted.has(result.msgId) && !found.has(result.msgId)) found.set(result.msgId, { result, frames: groups[i]! });
        });
      }
    };
    for (scan(); found.size < wanted.size; scan()) {
      if (Date.now() > deadline) throw new Error(`${found.size} of ${wanted.size} results arrived within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return found;
  }

  /** How many results for this msgId arrived so far (to catch duplicates). */
  resultCount(msgId: string): number {
    let n = 0;
    for (const msg of this.inbox.ofType("task_reply")) for (const r of msg.content.results) if (r.msgId === msgId) n++;
    return n;
  }

  close(): void {
    clearInterval(this.#subscription);
    this.#sender.close();
    this.#dealer.close();
    this.#sub.close();
  }
}

/** Polls until `check` holds (for effects with no message to wait on, such as a log line). */
export async function waitFor(check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A task body that needs no function: the controller never looks inside it. */
export const noop = { kind: "execute", code: "1" } as const;

/** Everything a test started, closed in reverse. */
export class Scene {
  readonly #closers: (() => void | Promise<void>)[] = [];
  controller!: ControllerProcess;

  static async start(args: string[] = []): Promise<Scene> {
    const scene = new Scene();
    scene.controller = await ControllerProcess.start(args);
    scene.#closers.push(() => scene.controller.dispose());
    return scene;
  }

  async engine(uuid?: string): Promise<FakeEngine> {
    const engine = await FakeEngine.start(this.controller.engineInfo(), uuid);
    this.#closers.push(() => engine.close());
    return engine;
  }

  async client(): Promise<FakeClient> {
    const client = await FakeClient.start(this.controller.clientInfo());
    this.#closers.push(() => client.close());
    return client;
  }

  track<T extends { close(): void }>(thing: T): T {
    this.#closers.push(() => thing.close());
    return thing;
  }

  async close(): Promise<void> {
    for (const close of this.#closers.reverse()) await close();
  }
}
