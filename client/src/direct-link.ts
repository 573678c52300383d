import * as zmq from "zeromq";
import {
  MessageSender, Signer, createLogger, dataSocketLimits, receiveMessages,
  type ClientConnectionInfo, type DirectAddress, type Message, type MessageContents, type MessageType, type SendOptions,
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
 * registration) and the cluster's client keypair.
 */
export class DirectLink {
  state: LinkState = "connecting";
  readonly #socket: zmq.Dealer;
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
    const keys = info.curve ? info.curve_keys : undefined;
    const curve = keys && address.curveKey ? { curveServerKey: address.curveKey, curvePublicKey: keys.client_public, curveSecretKey: keys.client_secret } : {};
    this.#socket = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...curve });
    this.#sender = new MessageSender(this.#socket, signer, session, log, "compact");
    this.#timer = setTimeout(() => this.#giveUp(`no answer from ${address.url} within ${handshakeMs} ms`), handshakeMs);
    this.#timer.unref();
    if (info.curve && !address.curveKey) {
      // A CURVE cluster's engine without a key of its own: nothing to connect to safely.
      queueMicrotask(() => this.#giveUp("the engine announced no CURVE key"));
      return;
    }
    try {
      this.#socket.connect(address.url);
    } catch (err) {
      queueMicrotask(() => this.#giveUp((err as Error).message));
      return;
    }
    this.#sender.send("direct_hello", {});
    void this.#receive(signer);
  }

  send<T extends MessageType>(type: T, content: MessageContents[T], options?: SendOptions): void {
    this.#sender.send(type, content, options);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#sender.close();
    this.#socket.close();
  }

  #giveUp(why: string): void {
    if (this.state !== "connecting") return;
    this.state = "failed";
    log.debug(`engine ${this.engineId}: no direct link (${why}); its DirectView work goes through the controller`);
    this.close();
    this.handlers.onStateChange(this);
  }

  async #receive(signer: Signer): Promise<void> {
    for await (const msg of receiveMessages(this.#socket, signer, log)) {
      if (msg.header.msg_type === "direct_welcome") {
        const { id, uuid } = msg.content as MessageContents["direct_welcome"];
        if (this.state !== "connecting") continue;
        if (id !== this.engineId || uuid !== this.engineUuid) {
          this.#giveUp(`${this.address.url} answers as engine ${String(id)}, not ${this.engineId}`);
          return;
        }
        clearTimeout(this.#timer);
        this.state = "ready";
        this.handlers.onStateChange(this);
        continue;
      }
      try {
        this.handlers.onMessage(msg);
      } catch (err) {
        log.error(`handling a direct ${msg.header.msg_type} failed: ${(err as Error).stack}`);
      }
    }
  }
}
