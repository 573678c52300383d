/**
 * Plays the controller's side of the engine protocol over real ZeroMQ sockets, and runs a real
 * `tspengine` process against it. Tests drive the engine message by message through this.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import * as zmq from "zeromq";
import {
  MessageSender,
  Signer,
  createLogger,
  encodeMessage,
  newHeader,
  newMessageId,
  packValue,
  receiveMessages,
  splitFrames,
  unpackValue,
  writeJsonPrivate,
  type EngineConnectionInfo,
  type EngineTask,
  type Message,
  type MessageContents,
  type MessageType,
  type StreamItem,
  type TaskBody,
  type TaskResult,
} from "@tsparallel/protocol";
import { bins, tempProfileRoot } from "./paths.js";

export interface ResultWithValue extends TaskResult {
  frames: Buffer[];
  /** The unpacked value, when the result carried frames. */
  value?: unknown;
}

export interface TaskSpec {
  body: TaskBody;
  frames?: Buffer[];
  msgId?: string;
}

type Waiter = { accept: (msg: Message) => boolean; resolve: (msg: Message) => void };

/** Messages arriving on one socket, kept in order; tests wait for the ones they want. */
class Inbox {
  readonly all: Message[] = [];
  #unclaimed: Message[] = [];
  #waiters: Waiter[] = [];

  push(msg: Message): void {
    this.all.push(msg);
    const waiter = this.#waiters.find((w) => w.accept(msg));
    if (waiter) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(msg);
    } else this.#unclaimed.push(msg);
  }

  next(accept: (msg: Message) => boolean, timeoutMs: number, what: string): Promise<Message> {
    const index = this.#unclaimed.findIndex(accept);
    if (index >= 0) return Promise.resolve(this.#unclaimed.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        accept,
        resolve: (msg) => {
          clearTimeout(timer);
          resolve(msg);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
}

const quiet = createLogger("fake-controller");

export class FakeController {
  readonly key = randomBytes(32).toString("hex");
  readonly signer = new Signer(this.key);
  readonly engineRouter = new zmq.Router({ linger: 0 });
  readonly heartbeatRouter = new zmq.Router({ linger: 0 });
  readonly engineInbox = new Inbox();
  readonly heartbeatInbox = new Inbox();
  readonly profile = tempProfileRoot();
  readonly connectionFile = join(this.profile.dir, "engine.json");
  /** Whether heartbeats are echoed back, as the real controller does. */
  echoHeartbeats = true;
  engine: ChildProcess | null = null;
  engineIdentity: Buffer | null = null;
  engineLog = "";
  exitCode: Promise<number | null> = Promise.resolve(null);
  #engineSender!: MessageSender;
  #heartbeatSender!: MessageSender;
  #heartbeatIdentity: Buffer | null = null;

  /** Binds the sockets and writes the connection file (to `path`, by default a private temp file). */
  async bind(path = this.connectionFile): Promise<void> {
    await this.engineRouter.bind("tcp://127.0.0.1:*");
    await this.heartbeatRouter.bind("tcp://127.0.0.1:*");
    this.#engineSender = new MessageSender(this.engineRouter, this.signer, "fake-controller", quiet);
    this.#heartbeatSender = new MessageSender(this.heartbeatRouter, this.signer, "fake-controller", quiet);
    const port = (socket: zmq.Router) => Number(socket.lastEndpoint!.split(":").pop());
    const info: EngineConnectionInfo = {
      kind: "engine",
      transport: "tcp",
      ip: "127.0.0.1",
      location: "127.0.0.1",
      key: this.key,
      signature_scheme: "hmac-sha256",
      profile: "test",
      controller: { pid: process.pid, hostname: "localhost", started: new Date().toISOString() },
      ports: { engine: port(this.engineRouter), heartbeat: port(this.heartbeatRouter) },
    };
    writeJsonPrivate(path, info);
    void this.#receive(this.engineRouter, this.engineInbox, () => {});
    void this.#receive(this.heartbeatRouter, this.heartbeatInbox, (msg) => {
      this.#heartbeatIdentity = msg.identities[0] ?? null;
      if (this.echoHeartbeats && msg.header.msg_type === "heartbeat") {
        this.#heartbeatSender.send("heartbeat", msg.content as MessageContents["heartbeat"], { identities: msg.identities, parent: msg.header });
      }
    });
  }

  async #receive(socket: zmq.Router, inbox: Inbox, onMessage: (msg: Message) => void): Promise<void> {
    for await (const msg of receiveMessages(socket, this.signer, quiet)) {
      onMessage(msg);
      inbox.push(msg);
    }
  }

  /** Starts a real engine process on the connection file. */
  spawnEngine(options: { args?: string[]; env?: Record<string, string>; cwd?: string } = {}): ChildProcess {
    const args = options.args ?? ["--file", this.connectionFile];
    const child = spawn(process.execPath, [bins.engine, ...args], {
      // Info level whatever CI sets: tests read what the engine says it does.
      env: { ...process.env, TSPARALLEL_DIR: this.profile.dir, TSPARALLEL_LOG_LEVEL: "info", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      cwd: options.cwd,
    });
    child.stdout!.on("data", (d: Buffer) => (this.engineLog += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (this.engineLog += d.toString()));
    this.exitCode = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    this.engine = child;
    return child;
  }

  async waitFor<T extends MessageType>(type: T, timeoutMs = 10_000, accept: (msg: Message<MessageContents[T]>) => boolean = () => true): Promise<Message<MessageContents[T]>> {
    const inbox = type === "heartbeat" ? this.heartbeatInbox : this.engineInbox;
    return (await inbox.next(
      (msg) => msg.header.msg_type === type && accept(msg as Message<MessageContents[T]>),
      timeoutMs,
      `${type}\n--- engine log ---\n${this.engineLog}`,
    )) as Message<MessageContents[T]>;
  }

  /** Waits for the engine's registration and accepts it. */
  async acceptRegistration(id = 0, heartbeatMs = 100): Promise<MessageContents["registration_request"]> {
    const request = await this.waitFor("registration_request");
    this.engineIdentity = request.identities[0]!;
    this.sendToEngine("registration_reply", { status: "ok", id, heartbeatMs, heartbeatTimeoutMs: heartbeatMs * 10 });
    return request.content;
  }

  /** Spawns an engine and registers it. */
  async startEngine(id = 0, heartbeatMs = 100, options: Parameters<FakeController["spawnEngine"]>[0] = {}): Promise<void> {
    if (!this.engineRouter.lastEndpoint) await this.bind();
    this.spawnEngine(options);
    await this.acceptRegistration(id, heartbeatMs);
  }

  sendToEngine<T extends MessageType>(type: T, content: MessageContents[T], buffers: Buffer[] = []): void {
    this.#engineSender.send(type, content, { identities: [this.engineIdentity!], buffers });
  }

  sendToHeartbeat<T extends MessageType>(type: T, content: MessageContents[T]): void {
    this.#heartbeatSender.send(type, content, { identities: [this.#heartbeatIdentity!] });
  }

  /** Frames as a forger without the key would send them. */
  sendForged<T extends MessageType>(type: T, content: MessageContents[T], buffers: Buffer[] = []): void {
    const frames = encodeMessage(new Signer("not-the-key"), { header: newHeader(type, "forger"), content, buffers });
    void this.engineRouter.send([this.engineIdentity!, ...frames]);
  }

  /** Sends tasks in one task_request; returns their msgIds in order. */
  submit(tasks: TaskSpec[]): string[] {
    const engineTasks: EngineTask[] = tasks.map((t) => ({ msgId: t.msgId ?? newMessageId(), body: t.body, bufferCount: t.frames?.length ?? 0 }));
    this.sendToEngine("task_request", { tasks: engineTasks }, tasks.flatMap((t) => t.frames ?? []));
    return engineTasks.map((t) => t.msgId);
  }

  /** Collects the results for these msgIds from task_reply messages, in the order asked. */
  async results(msgIds: string[], timeoutMs = 15_000): Promise<ResultWithValue[]> {
    const wanted = new Set(msgIds);
    const found = new Map<string, ResultWithValue>();
    while (found.size < wanted.size) {
      const reply = await this.waitFor("task_reply", timeoutMs, (msg) => msg.content.results.some((r) => wanted.has(r.msgId)));
      const groups = splitFrames(reply.buffers, reply.content.results.map((r) => r.bufferCount));
      reply.content.results.forEach((result, i) => {
        const frames = groups[i]!;
        const withValue: ResultWithValue = { ...result, frames };
        if (frames.length > 0) withValue.value = unpackValue(frames);
        found.set(result.msgId, withValue);
      });
    }
    return msgIds.map((id) => found.get(id)!);
  }

  async run(body: TaskBody, frames?: Buffer[]): Promise<ResultWithValue> {
    const [msgId] = this.submit([{ body, frames }]);
    const [result] = await this.results([msgId!]);
    return result!;
  }

  /** Streams received so far for a task, concatenated per stream name. */
  streamedText(msgId: string, name: "stdout" | "stderr" = "stdout"): string {
    return this.streamItems()
      .filter((item) => item.msgId === msgId && item.name === name)
      .map((item) => item.text)
      .join("");
  }

  streamItems(): StreamItem[] {
    return this.engineInbox.all.filter((m) => m.header.msg_type === "stream").flatMap((m) => (m.content as MessageContents["stream"]).items);
  }

  async close(): Promise<void> {
    if (this.engine && this.engine.exitCode === null && this.engine.signalCode === null) {
      this.engine.kill("SIGKILL");
      await this.exitCode;
    }
    this.engineRouter.close();
    this.heartbeatRouter.close();
    this.profile.cleanup();
  }
}

export const pack = (value: unknown): Buffer[] => packValue(value).frames;
