import { closeSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";

/** TCP states that hold a descriptor on the accepting side: ESTABLISHED, CLOSE_WAIT (see include/net/tcp_states.h). */
const OPEN_STATES = new Set(["01", "08"]);
const TABLES = ["/proc/net/tcp", "/proc/net/tcp6"];
const LITTLE_ENDIAN = endianness() === "LE";
const READ_CHUNK_BYTES = 256 * 1024;

/** Open connections per local port (only the ports asked for), then per remote address. */
export type ConnectionTable = Map<number, Map<string, number>>;

/**
 * The kernel's open TCP connections on given local ports, counted per remote address, from
 * /proc/net/tcp and tcp6. libzmq's monitor events do not say which peer a closed connection belonged
 * to, so this is where the connection caps learn that a peer's connections are gone. The files are
 * opened once and read again from the start each time: a process out of descriptors (exactly when the
 * caps matter) could not open them.
 */
export class TcpTable {
  readonly #fds: number[] = [];

  /** Undefined when this system has no such table (not Linux). */
  static open(): TcpTable | undefined {
    const table = new TcpTable();
    try {
      for (const file of TABLES) table.#fds.push(openSync(file, "r"));
      return table;
    } catch {
      table.close();
      return undefined;
    }
  }

  /** Undefined when a file cannot be read whole: a partial table would undercount, and let peers past a cap. */
  read(ports: ReadonlySet<number>): ConnectionTable | undefined {
    const table: ConnectionTable = new Map();
    for (const fd of this.#fds) {
      const text = readFromStart(fd);
      if (text === undefined) return undefined;
      countLines(text, ports, table);
    }
    return table;
  }

  close(): void {
    for (const fd of this.#fds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    }
  }
}

function readFromStart(fd: number): string | undefined {
  const chunks: Buffer[] = [];
  let position = 0;
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      const read = readSync(fd, chunk, 0, chunk.length, position);
      if (read === 0) break;
      chunks.push(read === chunk.length ? chunk : chunk.subarray(0, read));
      position += read;
    }
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks).toString("latin1");
}

function countLines(text: string, ports: ReadonlySet<number>, table: ConnectionTable): void {
  for (const line of text.split("\n")) {
    // "  12: 0100007F:1F90 0200007F:D2A4 01 ..." (sl, local, remote, state)
    const fields = line.trim().split(/\s+/, 4);
    if (fields.length < 4 || !OPEN_STATES.has(fields[3]!)) continue;
    const local = fields[1]!;
    const port = parseInt(local.slice(local.indexOf(":") + 1), 16);
    if (!ports.has(port)) continue;
    const remote = fields[2]!;
    const address = addressFromHex(remote.slice(0, remote.indexOf(":")));
    if (!address) continue;
    let byAddress = table.get(port);
    if (!byAddress) table.set(port, (byAddress = new Map()));
    byAddress.set(address, (byAddress.get(address) ?? 0) + 1);
  }
}

/** The kernel prints each 32-bit word of an address in host byte order. */
function addressFromHex(hex: string): string | undefined {
  if (hex.length !== 8 && hex.length !== 32) return undefined;
  const bytes = Buffer.from(hex, "hex");
  if (LITTLE_ENDIAN) for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  if (bytes.length === 4) return bytes.join(".");
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i).toString(16));
  return canonicalAddress(words.join(":"));
}

/**
 * One spelling per address, for both the kernel's table and ZAP's "127.0.0.1" or "::ffff:127.0.0.1":
 * IPv4-mapped IPv6 becomes IPv4, IPv6 takes the URL standard's compressed form.
 */
export function canonicalAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(":")) return address;
  try {
    const host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
    const v4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (v4) {
      const high = parseInt(v4[1]!, 16);
      const low = parseInt(v4[2]!, 16);
      return [high >> 8, high & 255, low >> 8, low & 255].join(".");
    }
    return host;
  } catch {
    return address;
  }
}
