import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import { z85Decode, type CurveKeys, type Logger } from "@tsparallel/protocol";

/** ZAP (ZeroMQ RFC 27): libzmq asks this endpoint, in the same context, about every CURVE handshake. */
const ZAP_ENDPOINT = "inproc://zeromq.zap.01";
const WARN_EVERY_MS = 10_000;

interface Domain {
  clientKey: Buffer;
  log: Logger;
  refused: number;
  lastWarn: number;
  unreported: number;
}

/**
 * The process's one ZAP handler (one endpoint per ZeroMQ context): a CURVE handshake on a socket of a
 * registered domain succeeds only with the cluster's client public key. Several controllers in one
 * process (tests) each register their own domain.
 */
class ZapHandler {
  readonly #domains = new Map<string, Domain>();
  #socket?: zmq.Reply;
  #bound?: Promise<void>;

  async register(keys: CurveKeys, log: Logger): Promise<ZapRegistration> {
    const name = `tsparallel-${randomUUID()}`;
    const domain: Domain = { clientKey: z85Decode(keys.client_public), log, refused: 0, lastWarn: 0, unreported: 0 };
    this.#domains.set(name, domain);
    if (!this.#socket) {
      const socket = new zmq.Reply({ linger: 0 });
      this.#socket = socket;
      this.#bound = socket.bind(ZAP_ENDPOINT).then(() => void this.#serve(socket));
    }
    await this.#bound;
    return {
      domain: name,
      refused: () => domain.refused,
      close: () => {
        this.#domains.delete(name);
        if (this.#domains.size === 0 && this.#socket) {
          this.#socket.close();
          this.#socket = undefined;
          this.#bound = undefined;
        }
      },
    };
  }

  async #serve(socket: zmq.Reply): Promise<void> {
    try {
      for await (const frames of socket) {
        const [version, requestId, domainName, address, , mechanism, credential] = frames;
        const domain = this.#domains.get(domainName?.toString() ?? "");
        const allowed = domain !== undefined && mechanism?.toString() === "CURVE" && credential !== undefined && credential.equals(domain.clientKey);
        if (domain && !allowed) this.#refused(domain, address?.toString() ?? "?");
        await socket.send([version ?? "1.0", requestId ?? "", allowed ? "200" : "400", allowed ? "OK" : "unknown client key", "", ""]);
      }
    } catch (err) {
      if (!socket.closed) for (const d of this.#domains.values()) d.log.error(`ZAP handler failed: ${(err as Error).message}`);
    }
  }

  /** Counted; logged at most once per interval, with how many since the last line. */
  #refused(domain: Domain, address: string): void {
    domain.refused++;
    domain.unreported++;
    const now = Date.now();
    if (now - domain.lastWarn < WARN_EVERY_MS) return;
    domain.log.warn(`refused ${domain.unreported} CURVE handshake(s) without the cluster's client key (latest from ${address})`);
    domain.lastWarn = now;
    domain.unreported = 0;
  }
}

export interface ZapRegistration {
  /** Set as `zapDomain` on the controller's CURVE sockets. */
  domain: string;
  refused(): number;
  close(): void;
}

const handler = new ZapHandler();

export function registerZapDomain(keys: CurveKeys, log: Logger): Promise<ZapRegistration> {
  return handler.register(keys, log);
}
