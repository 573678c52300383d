import net from "node:net";
import * as zmq from "zeromq";
import {
  MessageError, MessageSender, ReplayGuard, Signer, StreamFrameReader, createLogger, dataSocketLimits, decodeMessage, directStreamFromEnv, messageLimits, receiveMessages, streamChunks,
  type ClientConnectionInfo, type DirectAddress, type Message, type MessageContents, type MessageType, type OutgoingFrame, type SendOptions,
} from "@tsparallel/protocol";

const log = createLogger("client");

/** How long a direct link may take to answer its hello before the client gives up on it (and uses the controller). */
export const DIRECT_HANDSHAKE_MS = 2_000;

export type LinkState = "connecting" | "ready" | "failed";

/**
 * A client's own socket to one engine's direct ROUTER (DirectView's direct path): a signed
 * `direct_hello` must be answered by a `direct_welcome` from that very engine (id and uuid) within
 * DIRECT_HANDSHAKE_MS, or the link is given up (an address this client cannot reach, a handshake refused)
 * and its engine served through the controller. With CURVE, the engine's own public key (from its
 * registration) and the cluster's client keypair. Without CURVE, over the engine's plain TCP stream
 * when it offers one (DirectAddress.stream: one thread wake-up per hop instead of ZeroMQ's three); a
 * stream that closes takes the link down (its engine's work then goes through the controller).
 */
export class DirectLink {
  state: LinkState = "connecting";
  /** Which of the engine's direct sockets this link uses. */
  readonly transport: "stream" | "zmq";
  readonly #socket: zmq.Dealer | net.Socket;
  readonly #sender: MessageSender;
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(
    readonly engineId: number,
    readonly engineUuid: string,
    readonly address: DirectAddress,
    info: ClientConnectionInfo,
    signer: Signer,
    session: string,
    private readonly handlers: { onMessage(msg: Message): void; onStateChange(link: DirectLink): void },
    handshakeMs = DIRECT_HANDSHAKE_MS,
  ) {
    const stream = !info.curve && address.stream && directStreamFromEnv() ? address.stream : undefined;
    this.transport = stream ? "stream" : "zmq";
    this.#timer = setTimeout(() => this.#giveUp(`no answer from ${stream ?? address.url} within ${handshakeMs} ms`), handshakeMs);
    this.#timer.unref();
    if (stream) {
      const socket = (this.#socket = new net.Socket());
      this.#sender = new MessageSender({ sendTimeout: 0, send: (frames: OutgoingFrame[]) => this.#write(socket, frames) }, signer, session, log, "compact");
      this.#openStream(socket, stream, signer);
      return;
    }
    const keys = info.curve ? info.curve_keys : undefined;
    const curve = keys && address.curveKey ? { curveServerKey: address.curveKey, curvePublicKey: keys.client_public, curveSecretKey: keys.client_secret } : {};
    const socket = (this.#socket = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...curve }));
    this.#sender = new MessageSender(socket, signer, session, log, "compact");
    if (info.curve && !address.curveKey) {
      // A CURVE cluster's engine without a key of its own: nothing to connect to safely.
      queueMicrotask(() => this.#giveUp("the engine announced no CURVE key"));
      return;
    }
    try {
      socket.connect(address.url);
    } catch (err) {
      queueMicrotask(() => this.#giveUp((err as Error).message));
      return;
    }
    this.#sender.send("direct_hello", {});
    void this.#receive(socket, signer);
  }

  send<T extends MessageType>(type: T, content: MessageContents[T], options?: SendOptions): void {
    this.#sender.send(type, content, options);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#sender.close();
    if (this.#socket instanceof net.Socket) this.#socket.destroy();
    else this.#socket.close();
  }

  #giveUp(why: string): void {
    if (this.state !== "connecting") return;
    this.state = "failed";
    log.debug(`engine ${this.engineId}: no direct link (${why}); its DirectView work goes through the controller`);
    this.close();
    this.handlers.onStateChange(this);
  }

  async #receive(socket: zmq.Dealer, signer: Signer): Promise<void> {
    for await (const msg of receiveMessages(socket, signer, log)) if (!this.#handle(msg)) return;
  }

  /** The stream: frames as Node reads them, each message verified as the ROUTER's are (and a replay guard of its own). */
  #openStream(socket: net.Socket, url: string, signer: Signer): void {
    const match = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url);
    if (!match) {
      queueMicrotask(() => this.#giveUp(`${url} is not a TCP address`));
      return;
    }
    const limits = messageLimits();
    const reader = new StreamFrameReader(limits.maxMessageBytes);
    const replay = new ReplayGuard(limits.replayHistory);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      let messages: Buffer[][];
      try {
        messages = reader.push(chunk);
      } catch (err) {
        log.warn(`engine ${this.engineId}: its direct stream broke (${(err as Error).message}); its work goes through the controller`);
        this.#lost();
        return;
      }
      for (const frames of messages) {
        let msg: Message;
        try {
          msg = decodeMessage(signer, frames, { limits, replay });
        } catch (err) {
          if (!(err instanceof MessageError)) throw err;
          log.warn(`engine ${this.engineId}: dropped a bad message on its direct stream (${err.message})`);
          continue;
        }
        if (!this.#handle(msg)) return;
      }
    });
    socket.on("error", (err) => {
      if (this.state === "connecting") this.#giveUp(err.message);
    });
    socket.on("close", () => this.#lost());
    socket.connect(Number(match[2]), match[1]!, () => this.#sender.send("direct_hello", {}));
  }

  #write(socket: net.Socket, frames: OutgoingFrame[]): Promise<void> {
    if (!this.#closed && socket.writable) {
      const chunks = streamChunks(frames);
      if (chunks.length === 1) socket.write(chunks[0]!);
      else {
        socket.cork();
        for (const chunk of chunks) socket.write(chunk);
        socket.uncork();
      }
    }
    return RESOLVED;
  }

  /** The stream closed: a link not yet up gives up; one that was up goes down (new work goes through the controller). */
  #lost(): void {
    if (this.#closed) return;
    if (this.state === "connecting") return this.#giveUp("the engine closed its direct stream");
    if (this.state !== "ready") return;
    this.state = "failed";
    log.debug(`engine ${this.engineId}: its direct stream closed; its DirectView work goes through the controller`);
    this.close();
    this.handlers.onStateChange(this);
  }

  /** One verified message from the engine; false once the link is given up. */
  #handle(msg: Message): boolean {
    if (msg.header.msg_type === "direct_welcome") {
      const { id, uuid } = msg.content as MessageContents["direct_welcome"];
      if (this.state !== "connecting") return true;
      if (id !== this.engineId || uuid !== this.engineUuid) {
        this.#giveUp(`${this.address.url} answers as engine ${String(id)}, not ${this.engineId}`);
        return false;
      }
      clearTimeout(this.#timer);
      this.state = "ready";
      this.handlers.onStateChange(this);
      return true;
    }
    try {
      this.handlers.onMessage(msg);
    } catch (err) {
      log.error(`handling a direct ${msg.header.msg_type} failed: ${(err as Error).stack}`);
    }
    return true;
  }
}

const RESOLVED = Promise.resolve();
