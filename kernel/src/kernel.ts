import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import { receiveMessages, Signer, type Logger, type Message } from "@tsparallel/protocol";
import { CommManager } from "./comms/comm-manager.js";
import { RecentCalls } from "./comms/recent-calls.js";
import { registerStatusComm } from "./comms/status-comm.js";
import { CellExecutor } from "./execution/cell-executor.js";
import { LazyCells } from "./execution/lazy-cells.js";
import { abortExecute, execute, type ExecuteServices } from "./handlers/execute.js";
import { kernelInfo } from "./handlers/info.js";
import { complete, completeness, history, inspect } from "./handlers/introspection.js";
import { History } from "./history.js";
import { JupyterChannel } from "./jupyter/channel.js";
import { channelUrl, readJupyterConnection, type JupyterConnection } from "./jupyter/connection.js";
import { ControlChannel } from "./jupyter/control-channel.js";
import type { JupyterContents } from "./jupyter/messages.js";
import { kernelLogger } from "./kernel-log.js";
import { ClusterHolder } from "./magics/cluster-holder.js";
import { ParallelMagics } from "./magics/px.js";
import { IOPub } from "./output/iopub.js";
import { installProgressDisplays } from "./output/progress-display.js";
import { StdioCapture } from "./output/stdio-capture.js";
import { HeapKeeper } from "./runtime/heap-keeper.js";
import { Interrupts } from "./runtime/interrupts.js";
import { installKernelGlobals } from "./runtime/kernel-globals.js";
import { UncaughtErrors } from "./runtime/uncaught-errors.js";

type AnyRequest = Message<Record<string, unknown>>;

/** Shell messages served outside the execution queue (see #serveComm). */
const COMM_TYPES = new Set(["comm_open", "comm_msg", "comm_close"]);

/**
 * The TypeScript libraries load right after the sockets are bound (in steps, see LazyCells), so the
 * first cell finds them ready; the short wait lets the frontend's first kernel_info in first.
 */
const WARM_UP_DELAY_MS = 50;

/**
 * A Jupyter kernel for TypeScript, speaking messaging protocol 5.3 on the five channels with the
 * cluster's signed envelope. Shell requests are served one at a time, in order; control requests
 * and heartbeats are answered by a second thread, so an interrupt reaches a busy kernel.
 */
export class Kernel {
  readonly session = randomUUID();
  readonly log: Logger = kernelLogger();
  readonly #signer: Signer;
  readonly #shellSocket = new zmq.Router({ linger: 0 });
  /** No high-water mark: a PUB socket drops what exceeds it, and a cell may publish thousands of outputs at once. */
  readonly #iopubSocket = new zmq.Publisher({ linger: 1000, sendHighWaterMark: 0 });
  readonly #stdinSocket = new zmq.Router({ linger: 0 });
  readonly #shell: JupyterChannel;
  readonly #stdin: JupyterChannel;
  readonly #iopub: IOPub;
  readonly #control: ControlChannel;
  readonly #interrupts = new Interrupts();
  readonly #capture = new StdioCapture();
  readonly #history = new History();
  readonly #comms: CommManager;
  readonly #clusters = new ClusterHolder();
  readonly #calls = new RecentCalls();
  readonly #cells: LazyCells;
  readonly #services: ExecuteServices;
  readonly #heap = new HeapKeeper();
  readonly #uncaught: UncaughtErrors;
  readonly #queue: AnyRequest[] = [];
  #serving = false;
  #aborting = false;
  #stopping = false;
  #warmUpTimer: NodeJS.Timeout | null = null;
  #current: AnyRequest | null = null;
  #pendingInput: { resolve: (value: string) => void; reject: (err: Error) => void } | null = null;

  constructor(private readonly connection: JupyterConnection) {
    this.#signer = new Signer(connection.key);
    this.#shell = new JupyterChannel(this.#shellSocket, this.#signer, this.session, this.log);
    this.#stdin = new JupyterChannel(this.#stdinSocket, this.#signer, this.session, this.log);
    this.#iopub = new IOPub(new JupyterChannel(this.#iopubSocket, this.#signer, this.session, this.log, `kernel.${this.session}`));
    this.#control = new ControlChannel(
      { controlUrl: channelUrl(connection, "control"), heartbeatUrl: channelUrl(connection, "hb"), key: connection.key, session: this.session },
      this.#signer,
      this.log,
    );
    this.#comms = new CommManager(this.#iopub);
    this.#uncaught = new UncaughtErrors(
      ({ text, parent }) => this.#iopub.publish("stream", { name: "stderr", text }, parent),
      this.log,
      () => this.#iopub.parent,
    );
    this.#cells = new LazyCells(process.cwd(), this.#interrupts, this.log, () => this.#serving);
    const px = new ParallelMagics({
      iopub: this.#iopub,
      cells: this.#cells.get,
      interrupts: this.#interrupts,
      clusters: this.#clusters,
      runLocal: async (code) => (await this.#cells.get()).run(code, this.#services.counter.value),
    });
    this.#services = {
      shell: this.#shell,
      iopub: this.#iopub,
      executor: new CellExecutor(this.#cells.get, px, this.#clusters, this.#iopub),
      cells: this.#cells.get,
      history: this.#history,
      uncaught: this.#uncaught,
      counter: { value: 0 },
    };
    registerStatusComm(this.#comms, this.#clusters, this.#calls, this.log);
  }

  static async start(connectionFile: string): Promise<Kernel> {
    const kernel = new Kernel(readJupyterConnection(connectionFile));
    await kernel.#bind();
    return kernel;
  }

  async #bind(): Promise<void> {
    const conn = this.connection;
    await this.#shellSocket.bind(channelUrl(conn, "shell"));
    await this.#iopubSocket.bind(channelUrl(conn, "iopub"));
    await this.#stdinSocket.bind(channelUrl(conn, "stdin"));
    await this.#control.start((msg) => void this.#onControl(msg as AnyRequest));
    this.#capture.install(this.#iopub);
    this.#uncaught.install();
    this.#interrupts.install();
    this.#interrupts.onInterrupt(() => this.#pendingInput?.reject(new Error("input was interrupted")));
    installProgressDisplays(this.#iopub, this.#calls);
    installKernelGlobals(this.#iopub, { requestInput: (prompt, password) => this.#requestInput(prompt, password) });
    process.on("SIGTERM", () => void this.stop(0));
    this.#iopub.status("starting", {});
    void this.#receiveShell();
    void this.#receiveStdin();
    this.#scheduleWarmUp(WARM_UP_DELAY_MS);
  }

  #scheduleWarmUp(delayMs: number): void {
    if (this.#cells.started) return;
    if (this.#warmUpTimer) clearTimeout(this.#warmUpTimer);
    this.#warmUpTimer = setTimeout(() => this.#warmUp(), delayMs);
    this.#warmUpTimer.unref();
  }

  /** Loads TypeScript and builds the program once, so the first cell is not the one to wait. */
  #warmUp(): void {
    if (this.#cells.started || this.#stopping) return;
    const warm = this.#cells.warmUp();
    this.#heap.holdDuring(warm);
    warm.catch((err: Error) => this.log.error(`cannot load the TypeScript service: ${err.stack ?? err.message}`));
  }

  async #receiveShell(): Promise<void> {
    for await (const msg of receiveMessages(this.#shellSocket, this.#signer, this.log)) {
      if (COMM_TYPES.has(msg.header.msg_type)) this.#serveComm(msg as AnyRequest);
      else {
        this.#queue.push(msg as AnyRequest);
        if (!this.#serving) void this.#serveQueue();
      }
    }
  }

  /**
   * Comm messages (the cluster panel's actions) are served at once, beside a running cell: an
   * interrupt from the panel must land while the cell it interrupts still runs. Their handlers only
   * start async work and answer on the comm. Busy/idle is published only when no cell runs, so the
   * notebook's status does not flip to idle under a running cell.
   */
  #serveComm(msg: AnyRequest): void {
    const quiet = !this.#serving;
    if (quiet) this.#iopub.status("busy", msg.header);
    try {
      switch (msg.header.msg_type) {
        case "comm_open":
          this.#comms.open(msg as never);
          break;
        case "comm_msg":
          this.#comms.message(msg as never);
          break;
        case "comm_close":
          this.#comms.close(msg as never);
          break;
      }
    } catch (err) {
      this.log.error(`${msg.header.msg_type} failed: ${(err as Error).stack ?? err}`);
    } finally {
      if (quiet) this.#iopub.status("idle", msg.header);
    }
  }

  async #receiveStdin(): Promise<void> {
    for await (const msg of receiveMessages(this.#stdinSocket, this.#signer, this.log)) {
      if (msg.header.msg_type !== "input_reply") continue;
      const value = (msg.content as { value?: unknown }).value;
      const pending = this.#pendingInput;
      this.#pendingInput = null;
      pending?.resolve(typeof value === "string" ? value : "");
    }
  }

  async #serveQueue(): Promise<void> {
    this.#serving = true;
    try {
      while (this.#queue.length > 0) {
        const msg = this.#queue.shift()!;
        await this.#serveShell(msg);
        if (this.#queue.length === 0) this.#aborting = false;
      }
    } finally {
      this.#serving = false;
    }
  }

  async #serveShell(msg: AnyRequest): Promise<void> {
    const type = msg.header.msg_type;
    this.#heap.busy();
    this.#iopub.status("busy", msg.header);
    try {
      await this.#dispatchShell(type, msg);
    } catch (err) {
      this.log.error(`${type} failed: ${(err as Error).stack ?? err}`);
      if (type.endsWith("_request")) {
        const reply = type.replace(/_request$/, "_reply") as "execute_reply";
        const error = { ename: (err as Error).name ?? "Error", evalue: (err as Error).message ?? String(err), traceback: [] };
        this.#shell.reply(msg, reply, { status: "error", execution_count: this.#services.counter.value, ...error });
      }
    } finally {
      this.#iopub.status("idle", msg.header);
      this.#heap.idle();
    }
  }

  async #dispatchShell(type: string, msg: AnyRequest): Promise<void> {
    const content = msg.content as never;
    switch (type) {
      case "execute_request": {
        if (this.#aborting) return abortExecute(this.#services, msg as never);
        this.#current = msg;
        this.#iopub.parent = msg.header;
        this.#interrupts.clearPending();
        const failed = await execute(this.#services, msg as never);
        this.#current = null;
        const stopOnError = (msg.content as JupyterContents["execute_request"]).stop_on_error !== false;
        if (failed && stopOnError) this.#aborting = true;
        return;
      }
      case "kernel_info_request":
        this.#shell.reply(msg, "kernel_info_reply", { status: "ok", ...kernelInfo() });
        return;
      case "complete_request":
        this.#shell.reply(msg, "complete_reply", complete(await this.#cells.get(), content));
        return;
      case "inspect_request":
        this.#shell.reply(msg, "inspect_reply", inspect(await this.#cells.get(), content));
        return;
      case "is_complete_request":
        this.#shell.reply(msg, "is_complete_reply", await completeness(content));
        return;
      case "history_request":
        this.#shell.reply(msg, "history_reply", history(this.#history, content));
        return;
      case "comm_info_request":
        this.#shell.reply(msg, "comm_info_reply", { status: "ok", comms: this.#comms.info((msg.content as { target_name?: string }).target_name) });
        return;
      case "connect_request":
        this.#shell.reply(msg, "connect_reply", {
          status: "ok",
          shell_port: this.connection.shell_port,
          iopub_port: this.connection.iopub_port,
          stdin_port: this.connection.stdin_port,
          hb_port: this.connection.hb_port,
          control_port: this.connection.control_port,
        });
        return;
      case "shutdown_request":
        return this.#shutdown(msg, (t, c) => this.#shell.reply(msg, t, c));
      case "interrupt_request":
        this.#shell.reply(msg, "interrupt_reply", { status: "ok" });
        this.#interrupts.interrupt();
        return;
      default:
        this.log.warn(`ignored a ${type} message on the shell channel`);
    }
  }

  async #onControl(msg: AnyRequest): Promise<void> {
    const type = msg.header.msg_type;
    switch (type) {
      case "kernel_info_request":
        this.#control.reply(msg, "kernel_info_reply", { status: "ok", ...kernelInfo() });
        return;
      case "shutdown_request":
        return this.#shutdown(msg, (t, c) => this.#control.reply(msg, t, c));
      default:
        this.log.warn(`ignored a ${type} message on the control channel`);
    }
  }

  async #shutdown(msg: AnyRequest, reply: (type: "shutdown_reply", content: JupyterContents["shutdown_reply"]) => void): Promise<void> {
    const restart = (msg.content as { restart?: unknown }).restart === true;
    reply("shutdown_reply", { status: "ok", restart });
    this.#iopub.publish("shutdown_reply", { status: "ok", restart }, msg.header);
    await this.stop(0);
  }

  /** input(): an input_request to the frontend of the running cell, answered on the stdin channel. */
  #requestInput(prompt: string, password: boolean): Promise<string> {
    const request = this.#current;
    if (!request || (request.content as JupyterContents["execute_request"]).allow_stdin === false) {
      return Promise.reject(new Error("this frontend does not support input requests (allow_stdin is false)"));
    }
    if (this.#pendingInput) return Promise.reject(new Error("another input() is already waiting for an answer"));
    this.#iopub.flush();
    return new Promise((resolve, reject) => {
      this.#pendingInput = { resolve, reject };
      this.#stdin.send("input_request", { prompt, password }, { parent: request.header, identities: request.identities });
    });
  }

  /** Stops the cluster this kernel started, closes every socket and exits. */
  async stop(code: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#comms.closeAll();
    await this.#clusters.shutdown();
    await Promise.race([Promise.all([this.#iopub.flushed(), this.#shell.flushed(), this.#stdin.flushed()]), new Promise((r) => setTimeout(r, 1000))]);
    this.#capture.uninstall();
    this.#interrupts.uninstall();
    this.#uncaught.uninstall();
    this.#control.stop();
    // Give the PUB socket (linger 1 s) a moment to hand over the last status messages.
    setTimeout(() => process.exit(code), 100);
  }
}
