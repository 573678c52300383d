import net from "node:net";
import {
  RateLimitedWarnings, StreamConnection, droppedMessages, isTrustNonce, mayTrustStream, messageLimits, newTrustNonce,
  type DropReason, type Logger, type Message, type MessageContents, type MessageType, type ReplayGuard, type Signer,
} from "@tsparallel/protocol";

/** Where a direct message came from, and how to answer it: a ZeroMQ routing identity or a stream connection. */
export interface DirectPeer {
  send<T extends MessageType>(type: T, content: MessageContents[T], buffers?: readonly Buffer[]): void;
  /** The client named its link (direct_hello's `link`). */
  linked(token: string): void;
  /** A stream connection's: the same link's ROUTER side, for big answers (see DirectLink), when known. */
  bulk?(): DirectPeer | undefined;
}

export type DirectHandler = (peer: DirectPeer, msg: Message) => void;

/**
 * The plain TCP side of an engine's direct port (DirectAddress.stream), beside its ZeroMQ ROUTER on
 * clusters without CURVE. It exists for speed: Node writes and reads a TCP socket on the main thread,
 * so a direct round trip wakes one thread per hop, where ZeroMQ wakes three (the sender's I/O thread,
 * the receiver's I/O thread, the receiver's main thread). The messages are the same signed compact
 * messages with the same checks (HMAC, the replay guard the ROUTER uses, size and depth limits, the
 * date window; on a loopback connection, once its trust exchange is done, unsigned: see
 * protocol/src/stream-trust.ts); what ZeroMQ did for the ROUTER is done here: frames (stream-frames.ts, sizes checked
 * before anything is buffered), the handshake deadline (a connection that has sent no valid message
 * within TSPARALLEL_HANDSHAKE_MS is closed), the connection cap (TSPARALLEL_DIRECT_MAX_CONNECTIONS).
 * A bad message is dropped and counted; a stream whose framing breaks is closed (it cannot be resynced).
 */
export class DirectStream {
  readonly url: string;
  readonly #server: net.Server;
  readonly #connections = new Set<net.Socket>();
  /** One for the stream, by peer address and reason: a flood of bad connections costs a line per interval. */
  readonly #warnings: RateLimitedWarnings;
  #handler: DirectHandler | null = null;
  #closed = false;

  private constructor(server: net.Server, url: string, private readonly opts: StreamOptions) {
    this.#server = server;
    this.url = url;
    this.#warnings = new RateLimitedWarnings(opts.log);
    server.on("connection", (socket) => this.#accept(socket));
  }

  static async open(ip: string, opts: StreamOptions): Promise<DirectStream> {
    const server = net.createServer({ noDelay: true });
    server.maxConnections = opts.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, ip, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => opts.log.warn(`direct stream: ${err.message}`));
    const { port } = server.address() as net.AddressInfo;
    return new DirectStream(server, `tcp://${ip.includes(":") ? `[${ip}]` : ip}:${port}`, opts);
  }

  /** Hands every verified message to `handler`, as it arrives (no queue, no promise per message). */
  serve(handler: DirectHandler): void {
    this.#handler = handler;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    // Replies handed over just before the stop still get out (end flushes what is written).
    for (const socket of this.#connections) socket.end();
    setTimeout(() => {
      for (const socket of this.#connections) socket.destroy();
    }, 500).unref();
  }

  #accept(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const { signer, session, replay, onDrop } = this.opts;
    this.#connections.add(socket);
    const peerName = socket.remoteAddress ?? "?";
    let link: string | undefined;
    // The trust exchange (stream-trust.ts): the nonce this engine asked the client to answer.
    const mayTrust = mayTrustStream(socket, signer);
    let challenge: string | undefined;
    let greeted = false;
    const handshake = setTimeout(() => {
      if (!greeted) socket.destroy();
    }, messageLimits().handshakeMs);
    handshake.unref();
    const drop = (reason: DropReason, why: string): void => {
      droppedMessages[reason]++;
      onDrop(reason);
      this.#warnings.warn(`${peerName}/${reason}`, `dropped a bad message on the direct stream from ${peerName} (${why})`);
    };
    const connection: StreamConnection = new StreamConnection(socket, {
      signer, session, replay,
      onBadMessage: drop,
      onBrokenFraming: drop,
      onMessage: (msg) => {
        if (!greeted) {
          greeted = true;
          clearTimeout(handshake);
        }
        const type = msg.header.msg_type;
        if (type === "direct_trust") {
          if (challenge === undefined || (msg.content as Partial<MessageContents["direct_trust"]>).nonce !== challenge) {
            return drop("signature", "a direct_trust that answers no challenge of this connection");
          }
          challenge = undefined;
          return connection.trust();
        }
        if (type === "direct_hello" && mayTrust && !connection.trusted) {
          const { trust } = msg.content as Partial<MessageContents["direct_hello"]>;
          if (isTrustNonce(trust)) connection.send("direct_challenge", { echo: trust, nonce: (challenge = newTrustNonce()) });
        }
        this.#handler?.(peer, msg);
      },
    });
    const peer: DirectPeer = {
      send: (type, content, buffers) => connection.send(type, content, buffers && buffers.length ? { buffers } : {}),
      linked: (token) => void (link = token),
      bulk: () => (link === undefined ? undefined : this.opts.routerOf(link)),
    };
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      clearTimeout(handshake);
      this.#connections.delete(socket);
    });
  }
}

export interface StreamOptions {
  signer: Signer;
  session: string;
  /** The ROUTER's replay guard: a message captured on one side is refused on the other. */
  replay: ReplayGuard;
  log: Logger;
  onDrop: (reason: DropReason) => void;
  maxConnections: number;
  /** The ROUTER peer of a link, once its DEALER said hello. */
  routerOf: (link: string) => DirectPeer | undefined;
}
