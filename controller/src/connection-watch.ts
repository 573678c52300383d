import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type * as zmq from "zeromq";
import type { Logger, RateLimitedWarnings } from "@tsparallel/protocol";

/** Open connections on one listening socket, as libzmq's monitor events tell them. */
export interface PortConnections {
  /** Accepted and not yet closed (including ones still in their handshake). */
  open: number;
  /** Accepted since start. */
  accepted: number;
  /** Closed before they finished the handshake (idle raw TCP, wrong protocol): libzmq's handshakeInterval at work. */
  droppedInHandshake: number;
  /** accept() failures (EMFILE when the process is out of file descriptors). */
  acceptErrors: number;
}

/**
 * Counts the connections of each controller socket. ZeroMQ has no cap on accepted connections; what
 * bounds them is `handshakeInterval` (a connection that does not finish the ZMTP handshake in time is
 * closed, see limits.ts) and the process's file-descriptor limit (raised to its hard limit at start).
 * This watch makes the count visible (snapshot `connections`) and warns, rate-limited, when a port holds
 * more than `warnAbove` or accept() fails.
 */
export class ConnectionWatch {
  readonly ports: Record<string, PortConnections> = {};
  #closed = false;
  /** Per port: closes of connections that had not failed their handshake (see closedAfterHandshake). */
  readonly #closes = new Map<string, { disconnects: number; failed: number }>();

  constructor(
    private readonly warnings: RateLimitedWarnings,
    private readonly warnAbove: number,
    private readonly onClose: () => void = () => undefined,
  ) {}

  watch(name: string, socket: zmq.Socket): void {
    const port: PortConnections = (this.ports[name] = { open: 0, accepted: 0, droppedInHandshake: 0, acceptErrors: 0 });
    const closes = { disconnects: 0, failed: 0 };
    this.#closes.set(name, closes);
    void (async () => {
      try {
        for await (const event of socket.events) {
          if (this.#closed) return;
          switch (event.type) {
            case "accept":
              port.accepted++;
              port.open++;
              if (port.open > this.warnAbove) this.warnings.warn(`connections/${name}`, `the ${name} port holds ${port.open} connections (over ${this.warnAbove}); idle ones that never finish the handshake are closed after the handshake interval`);
              break;
            case "disconnect":
              if (port.open > 0) port.open--;
              closes.disconnects++;
              this.onClose();
              break;
            case "handshake:error:protocol":
            case "handshake:error:auth":
            case "handshake:error:other":
              // A handshake timeout is reported here, then as a disconnect.
              port.droppedInHandshake++;
              closes.failed++;
              break;
            case "accept:error":
              port.acceptErrors++;
              this.warnings.warn(`accept/${name}`, `the ${name} port could not accept a connection (${event.error.code ?? event.error.message}); ${port.acceptErrors} accept errors so far, ${port.open} connections open`);
              break;
            default:
              break;
          }
        }
      } catch {
        // The socket closed.
      }
    })();
  }

  /**
   * Grows when a connection closes that did not fail its handshake (every failure is reported, then
   * its disconnect): one that had finished it, or a peer that sent no ZMTP at all.
   */
  closedAfterHandshake(name: string): number {
    const closes = this.#closes.get(name);
    return closes ? closes.disconnects - closes.failed : 0;
  }

  close(): void {
    this.#closed = true;
  }
}

/**
 * Raises this process's soft limit on open files to its hard limit (Node has no setrlimit; util-linux
 * `prlimit` does it for a pid). Every connection costs a descriptor, so the soft limit (often 1024)
 * is what a flood of connections exhausts first. Best effort: logs what it did or why not.
 */
export function raiseOpenFileLimit(log: Logger): { soft: number; hard: number } | undefined {
  const limits = openFileLimits();
  if (!limits) return undefined;
  if (limits.soft >= limits.hard) return limits;
  try {
    execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${limits.hard}:${limits.hard}`], { stdio: "ignore", timeout: 5000 });
    const raised = openFileLimits() ?? limits;
    log.info(`open-file limit raised from ${limits.soft} to ${raised.soft}`);
    return raised;
  } catch (err) {
    log.info(`open-file limit stays at ${limits.soft} (hard ${limits.hard}): prlimit failed (${(err as Error).message})`);
    return limits;
  }
}

function openFileLimits(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const [soft, hard] = (line ?? "").trim().split(/\s{2,}/).slice(1, 3).map((v) => (v === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(v)));
    return soft !== undefined && hard !== undefined && Number.isFinite(soft) && Number.isFinite(hard) ? { soft, hard } : undefined;
  } catch {
    return undefined;
  }
}
