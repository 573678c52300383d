/**
 * The kernel rows of `npm run bench`: first result after start and the resident size after many
 * cells, for our kernel (started as its kernelspec starts it) and IPython (Debian's ipykernel)
 * side by side, both driven over their real ZeroMQ sockets as a Jupyter frontend drives them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as zmq from "zeromq";
import { decodeMessage, encodeMessage, newHeader, Signer, type Message } from "@tsparallel/protocol";
import { cpuSeconds, rssBytes } from "./proc.js";
import { PYTHON } from "./theirs.js";

type Msg = Message<Record<string, unknown>>;

export interface KernelFigures {
  /** Medians over the starts. */
  startToReadySeconds: number;
  firstResultAfterReadySeconds: number;
  startToFirstResultSeconds: number;
  /** CPU time (user + system) the kernel process used from its start to its first result: what a loaded machine does not inflate. */
  cpuToFirstResultSeconds: number;
  /** The kernel's CPU time from ready to its first result: the wait after ready, without the machine's load. */
  cpuAfterReadySeconds: number;
  starts: number;
  /** VmRSS after `cells` tiny cells sent back to back. */
  rssAfterCellsBytes: number;
  cells: number;
}

/** How each kernel is started: ours exactly as `tsparallel install` writes its kernelspec. */
export interface KernelCommand {
  name: string;
  argv: (connectionFile: string) => string[];
  env: Record<string, string>;
}

const kernelDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "kernel");
const kernelBin = join(kernelDir, "bin", "tsparallel.js");

export async function ourKernel(): Promise<KernelCommand> {
  // This checkout's kernel package (built by `tsc -b` before the bench runs), not an installed one.
  const installer = pathToFileURL(join(kernelDir, "dist", "kernelspec", "install.js")).href;
  const { kernelJson } = (await import(installer)) as { kernelJson(): { argv: string[]; env: Record<string, string> } };
  const spec = kernelJson();
  // The kernelspec names the installed bin; the bench runs this checkout's.
  const argv = spec.argv.map((a) => (a.endsWith("tsparallel.js") ? kernelBin : a));
  return { name: "tsparallel", argv: (file) => argv.map((a) => (a === "{connection_file}" ? file : a)), env: spec.env };
}

export const ipythonKernel: KernelCommand = { name: "ipython", argv: (file) => [PYTHON, "-m", "ipykernel_launcher", "-f", file], env: {} };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A started kernel with a shell DEALER and an IOPub SUB, as jupyter_client holds them. */
class Frontend {
  readonly session = randomUUID();
  readonly #signer: Signer;
  readonly #shell = new zmq.Dealer({ linger: 0 });
  readonly #iopub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
  readonly #waiters = new Map<string, (msg: Msg) => void>();
  readonly #iopubWaiters = new Map<string, (msg: Msg) => void>();
  readonly startedAt = performance.now();

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    key: string,
    ports: Record<string, number>,
  ) {
    this.#signer = new Signer(key);
    this.#shell.connect(`tcp://127.0.0.1:${ports.shell_port}`);
    this.#iopub.connect(`tcp://127.0.0.1:${ports.iopub_port}`);
    this.#iopub.subscribe();
    void this.#read(this.#shell, this.#waiters);
    void this.#read(this.#iopub, this.#iopubWaiters);
  }

  static async start(command: KernelCommand): Promise<Frontend> {
    const dir = mkdtempSync(join(tmpdir(), "tsp-bench-kernel-"));
    const ports: Record<string, number> = {};
    for (const name of ["shell", "iopub", "stdin", "control", "hb"]) ports[`${name}_port`] = await freePort();
    const key = randomUUID();
    const file = join(dir, "kernel.json");
    writeFileSync(file, JSON.stringify({ ...ports, ip: "127.0.0.1", transport: "tcp", key, signature_scheme: "hmac-sha256", kernel_name: command.name }));
    const [exe, ...args] = command.argv(file);
    const child = spawn(exe!, args, { cwd: dir, env: { ...process.env, ...command.env }, stdio: "ignore" });
    return new Frontend(child, dir, key, ports);
  }

  async #read(socket: zmq.Dealer | zmq.Subscriber, waiters: Map<string, (msg: Msg) => void>): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = decodeMessage<Record<string, unknown>>(this.#signer, frames);
        const parent = String(msg.parent_header.msg_id ?? "");
        waiters.get(`${parent}:${msg.header.msg_type}`)?.(msg);
        waiters.get(`${parent}:*`)?.(msg);
      }
    } catch {
      // Closed.
    }
  }

  #wait(waiters: Map<string, (msg: Msg) => void>, key: string, timeoutMs: number, match: (msg: Msg) => boolean = () => true): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(key);
        reject(new Error(`no ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.set(key, (msg) => {
        if (!match(msg)) return;
        clearTimeout(timer);
        waiters.delete(key);
        resolve(msg);
      });
    });
  }

  /**
   * Ready as jupyter_client's wait_for_ready sees it: a kernel_info_reply on shell and that
   * request's status on IOPub (so the subscription works). Asked again every 250 ms until then.
   */
  async ready(timeoutMs = 120_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`the kernel exited with ${this.child.exitCode}`);
      const header = newHeader("kernel_info_request", this.session, "bench");
      const reply = this.#wait(this.#waiters, `${header.msg_id}:kernel_info_reply`, 250);
      const status = this.#wait(this.#iopubWaiters, `${header.msg_id}:status`, 1000);
      void this.#shell.send(encodeMessage(this.#signer, { header, content: {} }));
      try {
        await Promise.all([reply, status]);
        return performance.now();
      } catch {
        reply.catch(() => undefined);
        status.catch(() => undefined);
      }
    }
    throw new Error("the kernel did not become ready");
  }

  /** Runs code; resolves once its reply and its idle status arrived. */
  async execute(code: string, timeoutMs = 120_000): Promise<void> {
    const header = newHeader("execute_request", this.session, "bench");
    const reply = this.#wait(this.#waiters, `${header.msg_id}:execute_reply`, timeoutMs);
    const idle = this.#wait(this.#iopubWaiters, `${header.msg_id}:status`, timeoutMs, (m) => m.content.execution_state === "idle");
    const content = { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true };
    await this.#shell.send(encodeMessage(this.#signer, { header, content }));
    const [answer] = await Promise.all([reply, idle]);
    if (answer.content.status !== "ok") throw new Error(`${JSON.stringify(code)} failed: ${JSON.stringify(answer.content)}`);
  }

  async close(): Promise<void> {
    this.#shell.close();
    this.#iopub.close();
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Start figures over `starts` fresh kernels, then the RSS after `cells` tiny cells in one more. */
export async function measureKernel(command: KernelCommand, options: { starts: number; cells: number; log: (line: string) => void }): Promise<KernelFigures> {
  const ready: number[] = [];
  const firstAfterReady: number[] = [];
  const firstAfterStart: number[] = [];
  const cpu: number[] = [];
  const cpuAfterReady: number[] = [];
  for (let i = 0; i < options.starts; i++) {
    const kernel = await Frontend.start(command);
    try {
      const readyAt = await kernel.ready();
      const cpuAtReady = cpuSeconds(kernel.child.pid!);
      await kernel.execute("1 + 1");
      const doneAt = performance.now();
      cpu.push(cpuSeconds(kernel.child.pid!));
      cpuAfterReady.push(cpu.at(-1)! - cpuAtReady);
      ready.push((readyAt - kernel.startedAt) / 1000);
      firstAfterReady.push((doneAt - readyAt) / 1000);
      firstAfterStart.push((doneAt - kernel.startedAt) / 1000);
      options.log(`${command.name} start ${i + 1}: ready ${ready.at(-1)!.toFixed(2)} s, first result ${firstAfterReady.at(-1)!.toFixed(2)} s after ready, ${cpu.at(-1)!.toFixed(2)} s of CPU (${cpuAfterReady.at(-1)!.toFixed(2)} s after ready)`);
    } finally {
      await kernel.close();
    }
  }
  const kernel = await Frontend.start(command);
  let rss: number;
  try {
    await kernel.ready();
    for (let i = 0; i < options.cells; i++) await kernel.execute(`${i} + 1`);
    // The moment a user would look: after the last cell, once the kernel had a second to settle.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    rss = rssBytes(kernel.child.pid!);
    options.log(`${command.name} RSS after ${options.cells} cells: ${(rss / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    await kernel.close();
  }
  return {
    startToReadySeconds: median(ready),
    firstResultAfterReadySeconds: median(firstAfterReady),
    startToFirstResultSeconds: median(firstAfterStart),
    cpuToFirstResultSeconds: median(cpu),
    cpuAfterReadySeconds: median(cpuAfterReady),
    starts: options.starts,
    rssAfterCellsBytes: rss,
    cells: options.cells,
  };
}
