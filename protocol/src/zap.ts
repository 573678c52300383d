import { randomUUID } from "node:crypto";
import * as zmq from "zeromq";
import { z85Decode, type CurveKeys } from "./curve.js";
import type { Logger } from "./log.js";

/** ZAP (ZeroMQ RFC 27): libzmq asks this endpoint, in the same context, about every handshake on a socket with a ZAP domain. */
const ZAP_ENDPOINT = "inproc://zeromq.zap.01";
const WARN_EVERY_MS = 10_000;

/** What one socket admits. */
export interface ZapPolicy {
  /** The cluster's client public key (Z85): the socket is a CURVE server and only this key gets in. Without it, NULL. */
  curve?: CurveKeys;
  /** Asked once the mechanism is right, with the peer's IP address: false refuses (the connection caps). */
  admit(address: string): boolean;
}

interface Domain {
  clientKey?: Buffer;
  admit(address: string): boolean;
  log: Logger;
  counters: { refused: number; lastWarn: number; unreported: number };
}

/**
 * The process's one ZAP handler (one endpoint per ZeroMQ context). Every controller socket has its own
 * ZAP domain, with or without CURVE: libzmq then asks here during each handshake (NULL ones too, since
 * libzmq 4.3 when a domain is set), with the peer's address, which is how the connection caps see
 * every peer that finishes a handshake. A CURVE handshake succeeds only with the cluster's client
 * public key. Several controllers in one process (tests) each register their own domains.
 */
class ZapHandler {
  readonly #domains = new Map<string, Domain>();
  #socket?: zmq.Reply;
  #bound?: Promise<void>;

  async register(policies: Record<string, ZapPolicy>, log: Logger): Promise<ZapRegistration> {
    const counters = { refused: 0, lastWarn: 0, unreported: 0 };
    const names: Record<string, string> = {};
    const id = randomUUID();
    for (const [socket, policy] of Object.entries(policies)) {
      const name = (names[socket] = `tsparallel-${id}-${socket}`);
      this.#domains.set(name, { ...(policy.curve ? { clientKey: z85Decode(policy.curve.client_public) } : {}), admit: policy.admit, log, counters });
    }
    if (!this.#socket) {
      const socket = new zmq.Reply({ linger: 0 });
      this.#socket = socket;
      this.#bound = socket.bind(ZAP_ENDPOINT).then(() => void this.#serve(socket));
    }
    await this.#bound;
    return {
      domains: names,
      refused: () => counters.refused,
      close: () => {
        for (const name of Object.values(names)) this.#domains.delete(name);
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
        const peer = address?.toString() ?? "?";
        let status = "200";
        let text = "OK";
        if (!domain) {
          // A domain that is gone (its controller stopped): its sockets are closing.
          status = "400";
          text = "unknown domain";
        } else if (!this.#mechanismAllowed(domain, mechanism?.toString(), credential)) {
          status = "400";
          text = "unknown client key";
          this.#refused(domain, peer);
        } else if (!this.#admit(domain, peer)) {
          // 400, not 300 ("temporary"): after a 300 libzmq keeps the connection open, and its descriptor.
          status = "400";
          text = "connection cap";
        }
        await socket.send([version ?? "1.0", requestId ?? "", status, text, "", ""]);
      }
    } catch (err) {
      if (!socket.closed) for (const d of this.#domains.values()) d.log.error(`ZAP handler failed: ${(err as Error).message}`);
    }
  }

  #mechanismAllowed(domain: Domain, mechanism: string | undefined, credential: Buffer | undefined): boolean {
    if (!domain.clientKey) return mechanism === "NULL";
    return mechanism === "CURVE" && credential !== undefined && credential.equals(domain.clientKey);
  }

  /** A failing cap check lets the peer in, as before there were caps, rather than taking the handler (and every later handshake) down. */
  #admit(domain: Domain, peer: string): boolean {
    try {
      return domain.admit(peer);
    } catch (err) {
      domain.log.error(`connection cap check failed (the connection is let in): ${(err as Error).message}`);
      return true;
    }
  }

  /** Counted; logged at most once per interval, with how many since the last line. */
  #refused(domain: Domain, address: string): void {
    const c = domain.counters;
    c.refused++;
    c.unreported++;
    const now = Date.now();
    if (now - c.lastWarn < WARN_EVERY_MS) return;
    domain.log.warn(`refused ${c.unreported} CURVE handshake(s) without the cluster's client key (latest from ${address})`);
    c.lastWarn = now;
    c.unreported = 0;
  }
}

export interface ZapRegistration {
  /** Per socket name, set as `zapDomain` on that socket. */
  domains: Record<string, string>;
  /** CURVE handshakes refused for their key. */
  refused(): number;
  close(): void;
}

const handler = new ZapHandler();

export function registerZapDomains(policies: Record<string, ZapPolicy>, log: Logger): Promise<ZapRegistration> {
  return handler.register(policies, log);
}
