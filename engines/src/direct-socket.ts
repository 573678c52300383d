import { createSocket } from "node:dgram";
import * as zmq from "zeromq";
import {
  MessageSender, ReplayGuard, Signer, dataSocketLimits, directMaxConnections, directStreamFromEnv, messageLimits, receiveMessages, registerZapDomains,
  type DirectAddress, type EngineConnectionInfo, type Logger, type Message, type MessageContents, type MessageType, type ZapRegistration,
} from "@tsparallel/protocol";
import { DirectStream, type DirectPeer } from "./direct-stream.js";

const LOOPBACK = /^(127\.|localhost$|::1$|\[::1\]$)/i;

/**
 * The address of this host's interface toward `host` (the controller's): a UDP socket "connected" there
 * is given one by the kernel's routing table, and nothing is sent. Clients that reach the controller
 * are likely to reach this host by the same network.
 */
function interfaceToward(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    const done = (address: string | undefined) => {
      socket.close();
      resolve(address);
    };
    socket.on("error", () => done(undefined));
    socket.connect(port, host.replace(/^\[|\]$/g, ""), () => {
      try {
        done(socket.address().address);
      } catch {
        done(undefined);
      }
    });
  });
}

/**
 * Where the direct socket binds: loopback when the controller is on loopback (a local cluster), else
 * the interface toward the controller; `TSPARALLEL_ENGINE_DIRECT_IP` overrides.
 */
async function bindAddress(info: EngineConnectionInfo): Promise<string | undefined> {
  const told = process.env.TSPARALLEL_ENGINE_DIRECT_IP?.trim();
  if (told) return told;
  const host = info.location || info.ip;
  if (LOOPBACK.test(host) || LOOPBACK.test(info.ip)) return "127.0.0.1";
  return interfaceToward(host, info.ports.engine);
}

/**
 * How many connections the direct socket holds, judged at each handshake (ZAP) from the socket's
 * events, since libzmq never says whose connection closed: admitted handshakes less the closes that
 * were not failed handshakes (a refused peer is closed, and not retried). As on the controller, the
 * cap counts handshaken connections; one that never finishes its handshake is closed after the
 * handshake interval. A burst past the cap lets the first `cap` in.
 */
class ConnectionCap {
  #closed = 0;
  #failed = 0;
  #admitted = 0;

  constructor(private readonly cap: number) {}

  watch(socket: zmq.Router): void {
    socket.events.on("disconnect", () => this.#closed++);
    for (const failure of ["handshake:error:auth", "handshake:error:protocol", "handshake:error:other"] as const) socket.events.on(failure, () => this.#failed++);
  }

  admit(): boolean {
    const held = this.#admitted - Math.max(0, this.#closed - this.#failed);
    if (held >= this.cap) return false;
    this.#admitted++;
    return true;
  }
}

/**
 * The engine's direct ROUTER: DirectView work from clients, straight, without the controller. It gets
 * the protections of the controller's sockets: every message HMAC-verified with the cluster key, with
 * its own replay history, the size limits and handshake timeout, CURVE (the engine's own server key,
 * announced at registration; only the cluster's client key gets in) when the cluster uses it, and a
 * cap on connections held at once (ZAP refuses a handshake past it). A bad message is dropped and
 * counted (`dropped`, told in every direct_welcome), never handled.
 */
export class DirectSocket {
  readonly address: DirectAddress;
  /** Bad messages dropped on the ROUTER and on the stream together. */
  dropped = 0;
  /** The plain TCP stream beside the ROUTER (clusters without CURVE; see DirectStream). */
  readonly stream: DirectStream | undefined;
  readonly #socket: zmq.Router;
  readonly #sender: MessageSender;
  readonly #signer: Signer;
  readonly #zap: ZapRegistration;
  /** One replay history for both sides of the port. */
  readonly #replay: ReplayGuard;
  /** Routing identities of links' DEALERs by link token (direct_hello), newest last; bounded. */
  readonly #links = new Map<string, Buffer>();

  private constructor(socket: zmq.Router, sender: MessageSender, signer: Signer, zap: ZapRegistration, address: DirectAddress, replay: ReplayGuard, stream: DirectStream | undefined) {
    this.#socket = socket;
    this.#sender = sender;
    this.#signer = signer;
    this.#zap = zap;
    this.address = address;
    this.#replay = replay;
    this.stream = stream;
  }

  /** Binds the socket; undefined (and a log line) when it cannot: the engine then serves through the controller only. */
  static async open(info: EngineConnectionInfo, session: string, log: Logger): Promise<DirectSocket | undefined> {
    let zap: ZapRegistration | undefined;
    let socket: zmq.Router | undefined;
    let stream: DirectStream | undefined;
    try {
      const ip = await bindAddress(info);
      if (!ip) {
        log.info("no direct socket: no interface toward the controller was found (DirectView work goes through the controller)");
        return undefined;
      }
      const caps = new ConnectionCap(directMaxConnections());
      zap = await registerZapDomains({ direct: { ...(info.curve && info.curve_keys ? { curve: info.curve_keys } : {}), admit: () => caps.admit() } }, log);
      const keys = info.curve ? zmq.curveKeyPair() : undefined;
      socket = new zmq.Router({
        sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0, linger: 0, ...dataSocketLimits(),
        ...(keys ? { curveServer: true, curveSecretKey: keys.secretKey } : {}),
        zapDomain: zap.domains.direct!, zapEnforceDomain: true,
      });
      await socket.bind(`tcp://${ip.includes(":") ? `[${ip}]` : ip}:*`);
      const endpoint = socket.lastEndpoint ?? "";
      const signer = new Signer(info.key);
      const replay = new ReplayGuard(messageLimits().replayHistory);
      let dropped = (): void => {};
      let routerOf = (_link: string): DirectPeer | undefined => undefined;
      // CURVE's encryption is ZeroMQ's: an encrypted cluster's direct work stays on the ROUTER.
      if (!keys && directStreamFromEnv()) {
        stream = await DirectStream.open(ip, { signer, session, replay, log, maxConnections: directMaxConnections(), onDrop: () => dropped(), routerOf: (link) => routerOf(link) }).catch((err: Error) => {
          log.warn(`no direct stream (direct work uses the ZeroMQ socket): ${err.message}`);
          return undefined;
        });
      }
      const address: DirectAddress = { url: endpoint, ...(keys ? { curveKey: keys.publicKey } : {}), ...(stream ? { stream: stream.url } : {}) };
      const direct = new DirectSocket(socket, new MessageSender(socket, signer, session, log, "compact"), signer, zap, address, replay, stream);
      dropped = () => void direct.dropped++;
      routerOf = (link) => direct.#routerOf(link);
      caps.watch(socket);
      return direct;
    } catch (err) {
      log.warn(`no direct socket (DirectView work goes through the controller): ${(err as Error).message}`);
      if (socket && !socket.closed) socket.close();
      stream?.close();
      zap?.close();
      return undefined;
    }
  }

  /** Verified messages of the ROUTER, each with the routing identity of the client that sent it. */
  messages(log: Logger): AsyncGenerator<Message> {
    return receiveMessages(this.#socket, this.#signer, log, { onDrop: () => this.dropped++, replay: this.#replay });
  }

  /** Who answers to a routing identity of the ROUTER. */
  peer(identity: Buffer): DirectPeer {
    return { send: (type, content, buffers) => this.send(identity, type, content, buffers), linked: (link) => this.#remember(link, identity) };
  }

  #remember(link: string, identity: Buffer): void {
    this.#links.delete(link);
    this.#links.set(link, identity);
    // A link per client connection: twice the connections the port admits is plenty.
    if (this.#links.size > 2 * directMaxConnections()) this.#links.delete(this.#links.keys().next().value!);
  }

  #routerOf(link: string): DirectPeer | undefined {
    const identity = this.#links.get(link);
    return identity && this.peer(identity);
  }

  send<T extends MessageType>(identity: Buffer, type: T, content: MessageContents[T], buffers?: readonly Buffer[]): void {
    this.#sender.send(type, content, { identities: [identity], ...(buffers && buffers.length ? { buffers } : {}) });
  }

  flushed(): Promise<void> {
    return this.#sender.flushed();
  }

  close(): void {
    this.stream?.close();
    this.#sender.close();
    // Replies handed over just before the stop still get out.
    this.#socket.linger = 500;
    if (!this.#socket.closed) this.#socket.close();
    this.#zap.close();
  }
}
