import type { Logger, RateLimitedWarnings } from "@tsparallel/protocol";
import { canonicalAddress, TcpTable } from "./tcp-table.js";

export interface ConnectionCapLimits {
  /** Connections one peer address may hold open on one port. */
  perAddress: number;
  /** Connections one port may hold open, from all addresses. */
  perPort: number;
}

/**
 * A 256-engine cluster holds 256 connections on the engine and on the heartbeat port, from one
 * address when its engines share a host (or a NAT); four times that leaves room for clients and
 * restarts. The per-port cap is further held under the open-file limit (see fitToOpenFiles).
 */
export const DEFAULT_CONNECTION_CAPS: ConnectionCapLimits = { perAddress: 1024, perPort: 4096 };

/** Descriptors kept for everything that is not a connection (store, logs, pipes, libzmq's own). */
const RESERVED_DESCRIPTORS = 256;
const SOCKET_COUNT = 4;
/** Between two reads of the kernel's connection table while a cap refuses: a flood at the cap costs one read a second... */
const TABLE_READ_EVERY_MS = 1000;
/** ...and closes of connections that had finished their handshake (or sent no ZMTP) at most four. */
const TABLE_READ_AFTER_CLOSE_MS = 250;

/**
 * Per-port caps that keep all four ports' connections together under the open-file limit, so that
 * idle peers run into the cap, which refuses them, before the descriptors run out, which locks
 * everyone out (libzmq then fails accept() in a loop).
 */
export function fitToOpenFiles(limits: ConnectionCapLimits, openFiles: number | undefined): ConnectionCapLimits {
  if (openFiles === undefined) return limits;
  const perPort = Math.max(1, Math.min(limits.perPort, Math.floor((openFiles - RESERVED_DESCRIPTORS) / SOCKET_COUNT)));
  return { perPort, perAddress: Math.min(limits.perAddress, perPort) };
}

interface PortCount {
  name: string;
  port: number;
  /** Admitted and perhaps still open, per canonical address: an upper bound, lowered from the kernel's table. */
  byAddress: Map<string, number>;
  total: number;
  refused: number;
  /** Closes (ConnectionWatch.closedAfterHandshake) already turned into budget. */
  closesSeen: number;
  /** How many more counts closes allow to be taken off: no reading of the table lowers the total by more. */
  budget: number;
}

/** What the snapshot shows per port. */
export interface CapFigures {
  /** Handshakes admitted and not known to be closed (an upper bound on the peers the cap counts). */
  counted: number;
  /** Handshakes refused because the address or the port was at its cap. */
  refused: number;
}

/**
 * Hard caps on connections that finished the ZMTP handshake (NULL or CURVE), per peer address and per
 * port. The ZAP handler (zap.ts) asks `admit` during every handshake on the controller's sockets, with
 * the peer's address; a refused handshake is answered 400 and libzmq closes the connection at once.
 *
 * Counting: each admitted handshake adds one. libzmq never says which peer a closed connection belonged
 * to (monitor events carry the listening endpoint only), so counts come down from the kernel's
 * connection table (tcp-table.ts), read a moment after connections close and when a handshake would be
 * refused: each count drops to what the kernel holds open from that address, if that is lower. The
 * table is read twice and the larger figure kept (a read under heavy churn can miss an entry), and a
 * port's total never drops by more than the connections that closed there without failing their
 * handshake: so a count stays an upper bound, and no peer holds more than the cap. The kernel's count
 * includes connections still in their handshake, so a peer that opens many at once while its old ones
 * are still counted can be refused early: that only ever affects that peer's address. Connections that
 * never finish the handshake are not counted: libzmq's handshake interval closes them.
 */
export class ConnectionCaps {
  readonly #ports = new Map<string, PortCount>();
  readonly #table: TcpTable | undefined;
  #tableReadAt = -Infinity;
  #closes: (name: string) => number = () => 0;
  #pendingRead?: NodeJS.Timeout;
  #reading?: Promise<void>;

  constructor(
    readonly limits: ConnectionCapLimits,
    private readonly warnings: RateLimitedWarnings,
    log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.#table = TcpTable.open();
    if (!this.#table) log.warn("no /proc/net/tcp on this system: connections are not capped (limit them in the host's firewall)");
  }

  /** `closes(port)` grows when a connection closes there that did not fail its handshake (ConnectionWatch). */
  watchCloses(closes: (name: string) => number): void {
    this.#closes = closes;
  }

  /**
   * A connection closed: if it may have been a counted one, on a port whose counts come near a cap (half
   * the per-address cap: below that no address can be at its cap), the table is read soon (at most four
   * times a second). A cluster well under its caps never reads it.
   */
  connectionClosed(): void {
    if (!this.#table || this.#pendingRead) return;
    const near = (p: PortCount) => p.total >= this.limits.perAddress / 2 && this.#closes(p.name) !== p.closesSeen;
    if (![...this.#ports.values()].some(near)) return;
    // Never at once: libzmq reports a disconnect just before it closes the descriptor.
    const delay = Math.max(TABLE_READ_AFTER_CLOSE_MS, this.#tableReadAt + TABLE_READ_AFTER_CLOSE_MS - this.now());
    this.#pendingRead = setTimeout(() => {
      this.#pendingRead = undefined;
      void this.#readTable(TABLE_READ_AFTER_CLOSE_MS);
    }, delay);
    this.#pendingRead.unref();
  }

  /** Counting starts before the sockets bind (a restarted controller's peers reconnect at once)... */
  addPort(name: string): void {
    this.#ports.set(name, { name, port: 0, byAddress: new Map(), total: 0, refused: 0, closesSeen: this.#closes(name), budget: 0 });
  }

  /** ...and its port number, for the kernel's table, is known once they are. */
  setPort(name: string, port: number): void {
    const counts = this.#ports.get(name);
    if (counts) counts.port = port;
  }

  /**
   * Whether a peer at `address` that has just finished its handshake on the `name` port may stay.
   * Decided at once, also at a cap: a flood of peers that connect again as soon as they are refused
   * holds a descriptor for as long as the decision takes, and waiting for a read of the kernel's table
   * (~100 ms on a busy host) let such a flood take every descriptor. At a cap the table is read in the
   * background (once a second), for the next peer; reads after closes keep counts near a cap current.
   */
  admit(name: string, rawAddress: string): boolean {
    const port = this.#ports.get(name);
    if (!this.#table || !port) return true;
    const address = canonicalAddress(rawAddress);
    const reason = this.#atCap(port, address);
    if (reason) {
      port.refused++;
      void this.#readTable(TABLE_READ_EVERY_MS);
      this.warnings.warn(
        `connection-cap/${name}`,
        `refused a connection to the ${name} port from ${address}: ${reason}; ${port.refused} refused on this port so far`,
      );
      return false;
    }
    port.total++;
    port.byAddress.set(address, (port.byAddress.get(address) ?? 0) + 1);
    return true;
  }

  figures(name: string): CapFigures | undefined {
    const port = this.#ports.get(name);
    return port && { counted: port.total, refused: port.refused };
  }

  close(): void {
    clearTimeout(this.#pendingRead);
    this.#pendingRead = undefined;
    this.#table?.close();
  }

  #atCap(port: PortCount, address: string): string | undefined {
    const fromAddress = port.byAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.perAddress) return `that address holds ${fromAddress} connections (cap ${this.limits.perAddress} per address, --max-connections-per-address)`;
    if (port.total >= this.limits.perPort) return `the port holds ${port.total} connections (cap ${this.limits.perPort} per port, --max-connections-per-port)`;
    return undefined;
  }

  /**
   * Lowers counts to what the kernel holds open, unless the last read is less than `minGapMs` old; a
   * caller during a read waits for that one.
   */
  #readTable(minGapMs: number): Promise<void> {
    if (this.#reading) return this.#reading;
    if (!this.#table || this.now() - this.#tableReadAt < minGapMs) return Promise.resolve();
    this.#reading = this.#lowerCounts(this.#table).finally(() => {
      this.#reading = undefined;
      // Closes during the read are not in it: another one, if they may matter.
      this.connectionClosed();
    });
    return this.#reading;
  }

  async #lowerCounts(table: TcpTable): Promise<void> {
    this.#tableReadAt = this.now();
    for (const port of this.#ports.values()) {
      const closes = this.#closes(port.name);
      port.budget = Math.min(port.total, port.budget + Math.max(0, closes - port.closesSeen));
      port.closesSeen = closes;
    }
    // Counts as the read starts: peers admitted while it runs may be missing from it, and keep their count.
    const before = new Map([...this.#ports.values()].map((p) => [p, new Map(p.byAddress)]));
    const ports = new Set([...this.#ports.values()].map((p) => p.port).filter((port) => port > 0));
    const first = await table.read(ports);
    const second = first && (await table.read(ports));
    if (!first || !second) return;
    for (const [port, counts] of before) {
      if (port.port === 0) continue;
      const a = first.get(port.port);
      const b = second.get(port.port);
      for (const [address, counted] of counts) {
        const open = Math.max(a?.get(address) ?? 0, b?.get(address) ?? 0);
        const now = port.byAddress.get(address) ?? 0;
        const drop = Math.min(Math.max(0, counted - open), port.budget, now);
        if (drop === 0) continue;
        port.budget -= drop;
        port.total -= drop;
        if (now - drop > 0) port.byAddress.set(address, now - drop);
        else port.byAddress.delete(address);
      }
    }
  }
}
