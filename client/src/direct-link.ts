import { randomBytes } from "node:crypto";
import net from "node:net";
import * as zmq from "zeromq";
import {
  MessageSender, ReplayGuard, STREAM_MAX_BYTES, Signer, StreamConnection, createLogger, dataSocketLimits, directStreamFromEnv,
  isTrustNonce, mayTrustStream, messageLimits, newTrustNonce, receiveMessages,
  type ClientConnectionInfo, type DirectAddress, type Message, type MessageContents, type MessageType, type SendOptions,
} from "@tsparallel/protocol";

const log = createLogger("client");

/** How long a direct link may take to answer its hello before the client gives up on it (and uses the controller). */
export const DIRECT_HANDSHAKE_MS = 2_000;

/** What one read of a direct stream takes at most (a bigger message arrives in several). */
const READ_BUFFER_BYTES = 64 * 1024;

export type LinkState = "connecting" | "ready" | "failed";

type Channel = "stream" | "zmq";

interface LinkStream {
  connection: StreamConnection;
  welcomed: boolean;
  /** The nonce this link's hello asked the engine to echo (stream-trust.ts), until it does. */
  trust?: string;
}

/**
 * A client's own connection to one engine's direct port (DirectView's direct path): a signed
 * `direct_hello` on its ROUTER must be answered by a `direct_welcome` from that very engine (id and
 * uuid) within DIRECT_HANDSHAKE_MS, or the link is given up (an address this client cannot reach, a
 * handshake refused) and its engine served through the controller. With CURVE, the engine's own public
 * key (from its registration) and the cluster's client keypair.
 *
 * Without CURVE the engine also offers a plain TCP stream (DirectAddress.stream), and the link opens
 * it beside the DEALER: small messages (every round trip) go over the stream, where a hop wakes one
 * thread instead of ZeroMQ's three; messages with more than STREAM_MAX_BYTES of values go over the
 * DEALER. The engine answers each task on the connection it came by, but for a big answer (more than
 * STREAM_MAX_BYTES of values) to a task that came by the stream and sent no output before it, which
 * takes the DEALER (both hellos carry the same `link` token). The two connections do not keep
 * order between them, so a message changes connection only when the client has no direct task out on
 * this engine (`send`'s `idle`); otherwise it takes the one the last message took. A stream that fails
 * or closes leaves the DEALER doing everything. On a loopback connection the stream's hello asks for
 * the trust exchange (protocol/src/stream-trust.ts), after which its messages go and come unsigned.
 */
export class DirectLink {
  state: LinkState = "connecting";
  readonly #dealer: zmq.Dealer;
  readonly #dealerSender: MessageSender;
  #stream: LinkStream | undefined;
  #dealerWelcomed = false;
  /** The connection the last message took. */
  #last: Channel = "zmq";
  /** One replay history for both connections. */
  readonly #replay = new ReplayGuard(messageLimits().replayHistory);
  readonly #timer: NodeJS.Timeout;
  /** Names this link in both hellos: the engine then knows the stream and the DEALER are one client's. */
  readonly #token = randomBytes(8).toString("hex");
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
    this.#timer = setTimeout(() => this.#deadline(handshakeMs), handshakeMs);
    this.#timer.unref();
    const keys = info.curve ? info.curve_keys : undefined;
    const curve = keys && address.curveKey ? { curveServerKey: address.curveKey, curvePublicKey: keys.client_public, curveSecretKey: keys.client_secret } : {};
    const dealer = (this.#dealer = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...curve }));
    this.#dealerSender = new MessageSender(dealer, signer, session, log, "compact");
    if (info.curve && !address.curveKey) {
      // A CURVE cluster's engine without a key of its own: nothing to connect to safely.
      queueMicrotask(() => this.#giveUp("the engine announced no CURVE key"));
      return;
    }
    try {
      dealer.connect(address.url);
    } catch (err) {
      queueMicrotask(() => this.#giveUp((err as Error).message));
      return;
    }
    this.#dealerSender.send("direct_hello", { link: this.#token });
    void this.#receive(dealer, signer);
    if (!info.curve && address.stream && directStreamFromEnv()) this.#openStream(address.stream, signer, session);
  }

  /** Which connection small messages take now: the stream while it is up. */
  get transport(): Channel {
    return this.#stream?.welcomed ? "stream" : "zmq";
  }

  get streamTrusted(): boolean {
    return this.#stream?.connection.trusted ?? false;
  }

  /**
   * Sends on the connection the message's size asks for when `idle` (no direct task of this client is
   * out on this engine besides the ones this message carries), else on the one the last message took.
   */
  send<T extends MessageType>(type: T, content: MessageContents[T], options?: SendOptions, idle = false): void {
    const stream = this.#stream?.welcomed ? this.#stream : undefined;
    let channel: Channel = stream ? this.#last : "zmq";
    if (stream && idle) {
      let bytes = 0;
      for (const buffer of options?.buffers ?? []) bytes += buffer.length;
      channel = bytes > STREAM_MAX_BYTES ? "zmq" : "stream";
    }
    this.#last = channel;
    if (channel === "stream") stream!.connection.send(type, content, options);
    else this.#dealerSender.send(type, content, options);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#dealerSender.close();
    this.#dealer.close();
    this.#dropStream();
  }

  #giveUp(why: string): void {
    if (this.state !== "connecting") return;
    this.state = "failed";
    log.debug(`engine ${this.engineId}: no direct link (${why}); its DirectView work goes through the controller`);
    this.close();
    this.handlers.onStateChange(this);
  }

  /** The handshake deadline: without the ROUTER's welcome the link is given up; a stream not welcomed yet is left out. */
  #deadline(handshakeMs: number): void {
    if (this.state !== "connecting") return;
    if (!this.#dealerWelcomed) return this.#giveUp(`no answer from ${this.address.url} within ${handshakeMs} ms`);
    this.#dropStream();
    this.#readyIfDone();
  }

  #readyIfDone(): void {
    if (this.state !== "connecting" || !this.#dealerWelcomed || (this.#stream && !this.#stream.welcomed)) return;
    clearTimeout(this.#timer);
    this.state = "ready";
    this.handlers.onStateChange(this);
  }

  #dropStream(): void {
    const stream = this.#stream;
    if (!stream) return;
    this.#stream = undefined;
    stream.connection.close();
  }

  async #receive(dealer: zmq.Dealer, signer: Signer): Promise<void> {
    for await (const msg of receiveMessages(dealer, signer, log, { replay: this.#replay })) if (!this.#handle(msg, "zmq")) return;
  }

  /** The stream: frames as Node reads them, each message verified as the DEALER's are. */
  #openStream(url: string, signer: Signer, session: string): void {
    const match = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url);
    if (!match) return;
    // Reads go straight to the connection (`onread`), not through a Readable's push and "data" event:
    // that machinery was ~20 µs of a fresh client's round trip. The read buffer is reused, so each
    // chunk is copied out (a small one from Node's pool) before frames point into it.
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (bytes: number, buffer: Uint8Array): boolean => (connection.take(Buffer.from(buffer.subarray(0, bytes))), true),
    };
    // The constructor is what reads `onread` (Node's docs said socket.connect() until nodejs/node#54194); this @types/node lacks it there.
    const socket = new net.Socket({ onread } as net.SocketConstructorOpts);
    const lost = (why: string): void => {
      if (this.#stream !== stream) return;
      log.debug(`engine ${this.engineId}: its direct stream is gone (${why}); its direct work goes over ZeroMQ`);
      this.#dropStream();
      this.#readyIfDone();
    };
    const connection = new StreamConnection(socket, {
      signer, session, replay: this.#replay, manualRead: true,
      onBadMessage: (_reason, why) => log.warn(`engine ${this.engineId}: dropped a bad message on its direct stream (${why})`),
      onBrokenFraming: (_reason, why) => lost(why),
      onMessage: (msg) => {
        if (msg.header.msg_type === "direct_challenge") this.#answerChallenge(stream, msg.content as Partial<MessageContents["direct_challenge"]>);
        else this.#handle(msg, "stream");
      },
    });
    const stream: LinkStream = (this.#stream = { connection, welcomed: false });
    socket.on("error", (err) => lost(err.message));
    socket.on("close", () => lost("closed"));
    socket.connect(Number(match[2]), match[1]!, () => {
      if (mayTrustStream(socket, signer)) stream.trust = newTrustNonce();
      connection.send("direct_hello", stream.trust ? { link: this.#token, trust: stream.trust } : { link: this.#token });
    });
  }

  /** The engine echoed this link's nonce (it holds the key and is live): answer its nonce, then go unsigned (stream-trust.ts). */
  #answerChallenge(stream: LinkStream, challenge: Partial<MessageContents["direct_challenge"]>): void {
    if (stream.connection.trusted || stream.trust === undefined || challenge.echo !== stream.trust || !isTrustNonce(challenge.nonce)) {
      log.warn(`engine ${this.engineId}: ignored a direct_challenge that does not answer this link's hello`);
      return;
    }
    stream.trust = undefined;
    stream.connection.send("direct_trust", { nonce: challenge.nonce });
    stream.connection.trust();
  }

  /** One verified message from the engine; false once the link is given up. */
  #handle(msg: Message, channel: Channel): boolean {
    if (msg.header.msg_type === "direct_welcome") {
      const { id, uuid } = msg.content as MessageContents["direct_welcome"];
      if (this.state !== "connecting") return true;
      if (id !== this.engineId || uuid !== this.engineUuid) {
        this.#giveUp(`${channel === "stream" ? this.address.stream : this.address.url} answers as engine ${String(id)}, not ${this.engineId}`);
        return false;
      }
      if (channel === "zmq") this.#dealerWelcomed = true;
      else if (this.#stream) this.#stream.welcomed = true;
      this.#readyIfDone();
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

