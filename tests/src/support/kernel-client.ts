import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { decodeMessage, encodeMessage, newHeader, Signer, type Message } from "@tsparallel/protocol";
import { repoRoot } from "./paths.js";
import { freePort } from "./free-port.js";

export const kernelBin = join(repoRoot, "kernel/bin/tsparallel.js");


export interface Executed {
  reply: Message<Record<string, unknown>>;
  /** IOPub messages of the request between its busy and idle status (execute_input included). */
  outputs: Message<Record<string, unknown>>[];
}

/** Text of every stream output of one stream, joined. */
export function streamText(outputs: Message<Record<string, unknown>>[], name: "stdout" | "stderr"): string {
  return outputs
    .filter((m) => m.header.msg_type === "stream" && m.content.name === name)
    .map((m) => m.content.text as string)
    .join("");
}

/** The MIME type of the kernel's progress displays (for awaits that take over a second). */
export const PROGRESS_MIME = "application/vnd.tsparallel.progress+json";

/** `text/plain` of every display_data and execute_result, in order; progress displays left out (a loaded machine may show one). */
export function plainOutputs(outputs: Message<Record<string, unknown>>[]): string[] {
  return outputs
    .filter((m) => m.header.msg_type === "display_data" || m.header.msg_type === "execute_result")
    .filter((m) => (m.content.data as Record<string, unknown>)[PROGRESS_MIME] === undefined)
    .map((m) => String((m.content.data as Record<string, unknown>)["text/plain"]));
}

/**
 * A Jupyter frontend played by the test over real ZeroMQ sockets, against a real kernel process:
 * it writes the connection file, starts `tsparallel kernel`, and speaks the signed protocol.
 */
export class KernelClient {
  readonly session = randomUUID();
  readonly iopub: Message<Record<string, unknown>>[] = [];
  readonly #signer: Signer;
  readonly #sockets: { shell: zmq.Dealer; control: zmq.Dealer; stdin: zmq.Dealer; iopub: zmq.Subscriber };
  readonly #replies = new Map<string, (msg: Message<Record<string, unknown>>) => void>();
  readonly #iopubWaiters = new Set<() => void>();
  /** Called for each input_request; its answer is sent as the input_reply. */
  onInput: ((prompt: string) => string) | null = null;
  stderr = "";

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly key: string,
    readonly ports: Record<string, number>,
  ) {
    this.#signer = new Signer(key);
    const routingId = this.session;
    this.#sockets = {
      shell: new zmq.Dealer({ routingId, linger: 0 }),
      control: new zmq.Dealer({ routingId: `${routingId}-control`, linger: 0 }),
      stdin: new zmq.Dealer({ routingId, linger: 0 }),
      iopub: new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 }),
    };
    for (const name of ["shell", "control", "stdin"] as const) this.#sockets[name].connect(`tcp://127.0.0.1:${ports[`${name}_port`]}`);
    this.#subscribeIopub(this.#sockets.iopub);
    for (const name of ["shell", "control", "stdin"] as const) void this.#receive(name);
    child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  static async start(options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<KernelClient> {
    const dir = mkdtempSync(join(tmpdir(), "tsp-kernel-"));
    const ports: Record<string, number> = {};
    for (const name of ["shell", "iopub", "stdin", "control", "hb"]) ports[`${name}_port`] = await freePort();
    const key = randomUUID();
    const file = join(dir, "kernel.json");
    writeFileSync(file, JSON.stringify({ ...ports, ip: "127.0.0.1", transport: "tcp", key, signature_scheme: "hmac-sha256", kernel_name: "tsparallel" }));
    const child = spawn(process.execPath, [kernelBin, "kernel", file], {
      cwd: options.cwd ?? dir,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const client = new KernelClient(child, dir, key, ports);
    // Ready once kernel_info is answered (it is asked again until then, as jupyter_client does).
    for (let attempt = 0; ; attempt++) {
      try {
        await client.request("shell", "kernel_info_request", {}, 2000);
        break;
      } catch (err) {
        if (attempt > 30 || child.exitCode !== null) throw new Error(`the kernel did not start: ${client.stderr}`, { cause: err });
      }
    }
    await client.#iopubJoined();
    return client;
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(channel: "shell" | "control" | "stdin", type: string, content: Record<string, unknown>): string {
    const header = newHeader(type, this.session, "test");
    void this.#sockets[channel].send(encodeMessage(this.#signer, { header, content }));
    return header.msg_id;
  }

  /** Sends a request and resolves with its reply (on the same channel). */
  request(channel: "shell" | "control", type: string, content: Record<string, unknown>, timeoutMs = 60_000): Promise<Message<Record<string, unknown>>> {
    const header = newHeader(type, this.session, "test");
    const reply = this.#awaitReply(header.msg_id, timeoutMs);
    void this.#sockets[channel].send(encodeMessage(this.#signer, { header, content }));
    return reply;
  }

  /** Runs code and gathers everything the kernel published for it, up to its idle status. */
  async execute(code: string, options: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<Executed> {
    const header = newHeader("execute_request", this.session, "test");
    const reply = this.#awaitReply(header.msg_id, timeoutMs);
    const content = { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true, ...options };
    await this.#sockets.shell.send(encodeMessage(this.#signer, { header, content }));
    const outputs = await this.outputsOf(header.msg_id, timeoutMs);
    return { reply: await reply, outputs };
  }

  /** IOPub messages with this parent, once its idle status arrived. */
  async outputsOf(msgId: string, timeoutMs = 120_000): Promise<Message<Record<string, unknown>>[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mine = this.iopub.filter((m) => m.parent_header.msg_id === msgId);
      const idle = mine.findIndex((m) => m.header.msg_type === "status" && m.content.execution_state === "idle");
      if (idle >= 0) return mine.slice(0, idle).filter((m) => m.header.msg_type !== "status");
      if (Date.now() > deadline) throw new Error(`no idle status for ${msgId} after ${timeoutMs} ms; kernel stderr:\n${this.stderr}`);
      await this.#nextIopub(Math.max(1, deadline - Date.now()));
    }
  }

  /** Waits until an IOPub message matches. */
  async waitForIopub(match: (m: Message<Record<string, unknown>>) => boolean, timeoutMs = 30_000): Promise<Message<Record<string, unknown>>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.iopub.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        const seen = this.iopub.slice(-12).map((m) => `${m.header.msg_type}${typeof m.content.execution_state === "string" ? `:${m.content.execution_state}` : ""}`);
        throw new Error(`no matching IOPub message after ${timeoutMs} ms (last seen: ${seen.join(", ") || "none"}); kernel stderr:\n${this.stderr}`);
      }
      await this.#nextIopub(Math.max(1, deadline - Date.now()));
    }
  }

  exited(): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  async close(): Promise<void> {
    for (const socket of Object.values(this.#sockets)) socket.close();
    if (this.child.exitCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      await this.exited();
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  #awaitReply(msgId: string, timeoutMs: number): Promise<Message<Record<string, unknown>>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#replies.delete(msgId);
        reject(new Error(`no reply to ${msgId} after ${timeoutMs} ms; kernel stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.#replies.set(msgId, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
  }

  #nextIopub(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#iopubWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#iopubWaiters.add(done);
    });
  }

  async #receive(channel: "shell" | "control" | "stdin"): Promise<void> {
    try {
      for await (const frames of this.#sockets[channel]) {
        const msg = decodeMessage<Record<string, unknown>>(this.#signer, frames);
        if (channel === "stdin" && msg.header.msg_type === "input_request") {
          const answer = this.onInput?.(String(msg.content.prompt)) ?? "";
          const header = newHeader("input_reply", this.session, "test");
          void this.#sockets.stdin.send(encodeMessage(this.#signer, { header, parent_header: msg.header, content: { value: answer } }));
          continue;
        }
        const waiter = this.#replies.get(String(msg.parent_header.msg_id));
        this.#replies.delete(String(msg.parent_header.msg_id));
        waiter?.(msg);
      }
    } catch {
      // Closed.
    }
  }

  /**
   * As jupyter_client's wait_for_ready: a kernel_info whose status comes back on IOPub proves the
   * subscription works. A SUB socket here sometimes stays connected and silent for good; a fresh one
   * (not just a retry) then joins.
   */
  async #iopubJoined(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const msgId = this.send("shell", "kernel_info_request", {});
      try {
        await this.waitForIopub((m) => m.parent_header.msg_id === msgId, 2000);
        return;
      } catch (err) {
        if (attempt >= 10) throw new Error(`no IOPub message from the kernel after ${attempt + 1} subscriptions`, { cause: err });
      }
      this.#sockets.iopub.close();
      this.#sockets.iopub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
      this.#subscribeIopub(this.#sockets.iopub);
    }
  }

  #subscribeIopub(socket: zmq.Subscriber): void {
    socket.connect(`tcp://127.0.0.1:${this.ports.iopub_port}`);
    socket.subscribe();
    void this.#receiveIopub(socket);
  }

  async #receiveIopub(socket: zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        this.iopub.push(decodeMessage<Record<string, unknown>>(this.#signer, frames));
        for (const waiter of [...this.#iopubWaiters]) waiter();
      }
    } catch {
      // Closed.
    }
  }
}
