import { readFileSync } from "node:fs";
import { endianness } from "node:os";

/** TCP states that hold a descriptor on the accepting side: ESTABLISHED, CLOSE_WAIT (see include/net/tcp_states.h). */
const OPEN_STATES = new Set(["01", "08"]);
const TABLES = ["/proc/net/tcp", "/proc/net/tcp6"];
const LITTLE_ENDIAN = endianness() === "LE";

/** Open connections per local port (only the ports asked for), then per remote address. */
export type ConnectionTable = Map<number, Map<string, number>>;

/** Whether this system has the kernel's connection table (Linux). */
export function connectionTableAvailable(): boolean {
  try {
    readFileSync(TABLES[0]!, { encoding: "utf8", flag: "r" });
    return true;
  } catch {
    return false;
  }
}

/**
 * The kernel's open TCP connections on `ports`, counted per remote address, from /proc/net/tcp and
 * tcp6. libzmq's monitor events do not say which peer a connection closed for, so this is where the
 * connection caps learn that a peer's connections are gone. Read synchronously: the caller decides a
 * handshake on the result, and reads it at most once a second.
 */
export function readConnectionTable(ports: ReadonlySet<number>): ConnectionTable {
  const table: ConnectionTable = new Map();
  for (const file of TABLES) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
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
  return table;
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
