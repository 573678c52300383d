import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import {
  EVENTS_RENEW_MS, MessageSender, Signer, createLogger, curveClientOptions, dataSocketLimits, receiveMessages, url,
  type ClientConnectionInfo, type Message, type MessageContents, type MessageType, type SendOptions,
} from "@tsparallel/protocol";
import { TimeoutError, type HandshakeError } from "./errors.js";
import { HandshakeWatch } from "./handshake-watch.js";
import { ClientHeartbeat } from "./heartbeat.js";

const log = createLogger("client");
/** Renewals of the events subscription that cannot go out (the controller is away) are dropped without a word. */
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

interface PendingRequest {
  resolve(msg: Message): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** For a reply that may come in pieces (`content.more`): each piece but the last; the timeout starts over with each. */
  onPiece?: (msg: Message) => void;
  restartTimer?: () => NodeJS.Timeout;
}

export interface LinkHandlers {
  /** Messages that are not replies to a request: task results and streams. */
  onMessage(msg: Message): void;
  /** Messages published on the events socket. */
  onEvent(msg: Message): void;
}

/** The client's two sockets to the controller and request/reply matching over them. */
export class ControllerLink {
  readonly session = randomUUID();
  readonly #dealer: zmq.Dealer;
  readonly #events: zmq.Dealer;
  readonly #eventsSender: MessageSender;
  readonly #renewEvents: NodeJS.Timeout;
  /** Set when the controller refused a handshake before any succeeded: every request fails with it. */
  #handshakeError?: HandshakeError;
  readonly #sender: MessageSender;
  readonly #signer: Signer;
  readonly #pending = new Map<string, PendingRequest>();
  readonly #heartbeat: ClientHeartbeat;
  #closed = false;
  /** When anything last arrived from the controller (epoch ms). */
  lastHeard = Date.now();

  constructor(
    readonly info: ClientConnectionInfo,
    private readonly handlers: LinkHandlers,
  ) {
    this.#dealer = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 0, sendTimeout: 0, ...dataSocketLimits(), ...curveClientOptions(info) });
    this.#events = new zmq.Dealer({ linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 4, sendTimeout: 0, ...dataSocketLimits(), ...curveClientOptions(info) });
    const refused = (err: HandshakeError) => this.#refused(err);
    new HandshakeWatch(this.#dealer, url(info, info.ports.client), info.curve === true, refused);
    new HandshakeWatch(this.#events, url(info, info.ports.events), info.curve === true, refused);
    this.#signer = new Signer(info.key);
    this.#sender = new MessageSender(this.#dealer, this.#signer, this.session, log, "compact");
    this.#events.connect(url(info, info.ports.events));
    // Events go only to peers that ask with a signed message, renewed so that the controller can
    // forget a client that went without a word.
    this.#eventsSender = new MessageSender(this.#events, this.#signer, this.session, quiet, "compact");
    this.#eventsSender.send("events_subscribe", {});
    this.#renewEvents = setInterval(() => this.#eventsSender.send("events_subscribe", {}), EVENTS_RENEW_MS);
    this.#renewEvents.unref();
    // At once after a reconnect too (a restarted controller knows no subscribers), not at the next renewal.
    this.#events.events.on("handshake", () => this.#eventsSender.send("events_subscribe", {}));
    this.#dealer.connect(url(info, info.ports.client));
    // First on this socket, so the controller watches this client before it sees any of its tasks.
    this.#sender.send("client_heartbeat", { time: Date.now() });
    this.#heartbeat = new ClientHeartbeat(url(info, info.ports.client), info.key, this.session, curveClientOptions(info));
    void this.#receive();
    void this.#receiveEvents();
  }

  get address(): string {
    return url(this.info, this.info.ports.client);
  }

  /** The cluster key's signer, shared with this client's direct links to engines. */
  get signer(): Signer {
    return this.#signer;
  }

  send<T extends MessageType>(type: T, content: MessageContents[T], options?: SendOptions): void {
    this.#sender.send(type, content, options);
  }

  /**
   * Sends a request and resolves with the controller's reply, or fails after `timeoutMs`. With
   * `onPiece`, a reply whose content says `more` is a piece: it goes to onPiece, and the request waits
   * for the next (each piece starts the timeout over); the piece without `more` resolves it.
   */
  request<T extends MessageType, R extends MessageType>(
    type: T,
    content: MessageContents[T],
    timeoutMs: number,
    options: SendOptions = {},
    onPiece?: (msg: Message<MessageContents[R]>) => void,
  ): Promise<Message<MessageContents[R]>> {
    if (this.#closed) return Promise.reject(new Error("the client is closed"));
    if (this.#handshakeError) return Promise.reject(this.#handshakeError);
    return new Promise((resolve, reject) => {
      const header = this.#sender.send(type, content, options);
      const startTimer = () =>
        setTimeout(() => {
          this.#pending.delete(header.msg_id);
          reject(new TimeoutError(`no ${type.replace(/_request$/, "")} reply from the controller at ${this.address} within ${timeoutMs} ms: is it running?`));
        }, timeoutMs);
      const pending: PendingRequest = { resolve: resolve as (m: Message) => void, reject, timer: startTimer() };
      if (onPiece) {
        pending.onPiece = onPiece as (m: Message) => void;
        pending.restartTimer = startTimer;
      }
      this.#pending.set(header.msg_id, pending);
    });
  }

  #refused(err: HandshakeError): void {
    if (this.#handshakeError) return;
    this.#handshakeError = err;
    log.error(err.message);
    for (const [, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    this.#pending.clear();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#heartbeat.stop();
    clearInterval(this.#renewEvents);
    this.#eventsSender.send("events_unsubscribe", {});
    this.#eventsSender.close();
    this.#sender.close();
    for (const [, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error("the client was closed"));
    }
    this.#pending.clear();
    this.#dealer.close();
    this.#events.close();
  }

  async #receive(): Promise<void> {
    for await (const msg of receiveMessages(this.#dealer, this.#signer, log)) {
      this.lastHeard = Date.now();
      const parentId = msg.parent_header.msg_id;
      const pending = parentId === undefined ? undefined : this.#pending.get(parentId);
      if (pending) {
        clearTimeout(pending.timer);
        if (pending.onPiece && (msg.content as { more?: unknown }).more === true && msg.header.msg_type !== "error_reply") {
          pending.timer = pending.restartTimer!();
          try {
            pending.onPiece(msg);
          } catch (err) {
            this.#pending.delete(parentId!);
            pending.reject(err as Error);
          }
          continue;
        }
        this.#pending.delete(parentId!);
        if (msg.header.msg_type === "error_reply") {
          const c = msg.content as MessageContents["error_reply"];
          pending.reject(new Error(`${c.ename}: ${c.evalue}`));
        } else pending.resolve(msg);
        continue;
      }
      try {
        this.handlers.onMessage(msg);
      } catch (err) {
        log.error(`handling ${msg.header.msg_type} failed: ${(err as Error).stack}`);
      }
    }
  }

  async #receiveEvents(): Promise<void> {
    for await (const msg of receiveMessages(this.#events, this.#signer, log)) {
      this.lastHeard = Date.now();
      try {
        this.handlers.onEvent(msg);
      } catch (err) {
        log.error(`handling event ${msg.header.msg_type} failed: ${(err as Error).stack}`);
      }
    }
  }
}
