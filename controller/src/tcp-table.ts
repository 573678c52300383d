import { closeSync, openSync, read } from "node:fs";
import { promisify } from "node:util";
import { endianness } from "node:os";

/** TCP states (include/net/tcp_states.h) are two hex digits. */
const [DIGIT_0, DIGIT_1, DIGIT_8] = [0x30, 0x31, 0x38];
const TABLES = ["/proc/net/tcp", "/proc/net/tcp6"];
const LITTLE_ENDIAN = endianness() === "LE";
const READ_CHUNK_BYTES = 256 * 1024;
const NEWLINE = 0x0a;
const SL_END = Buffer.from(": ", "latin1");
const readAsync = promisify(read);
const readAt = (fd: number, buffer: Buffer, position: number) => readAsync(fd, buffer, 0, buffer.length, position);

/** Open connections per local port (only the ports asked for), then per remote address. */
export type ConnectionTable = Map<number, Map<string, number>>;

/**
 * The kernel's open TCP connections on given local ports, counted per remote address, from
 * /proc/net/tcp and tcp6. libzmq's monitor events do not say which peer a closed connection belonged
 * to, so this is where the connection caps learn that a peer's connections are gone. The files are
 * opened once and read again from the start each time: a process out of descriptors (exactly when the
 * caps matter) could not open them. They list every socket of the host's network namespace (tens of
 * thousands on a busy host, ~150 bytes each, ~100 ms of kernel time per read), so the kernel's part
 * runs on libuv's thread pool and only lines on our ports are looked at.
 */
export class TcpTable {
  readonly #fds: number[] = [];

  /** Undefined when this system has no such table (not Linux). A kernel without IPv6 has no tcp6. */
  static open(): TcpTable | undefined {
    const table = new TcpTable();
    for (const [i, file] of TABLES.entries()) {
      try {
        table.#fds.push(openSync(file, "r"));
      } catch {
        if (i === 0) return undefined;
      }
    }
    return table;
  }

  /** Undefined when a file cannot be read whole: a partial table would undercount, and let peers past a cap. */
  async read(ports: ReadonlySet<number>): Promise<ConnectionTable | undefined> {
    const table: ConnectionTable = new Map();
    for (const fd of this.#fds) {
      const text = await readFromStart(fd);
      if (text === undefined) return undefined;
      countConnections(text, ports, table);
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

async function readFromStart(fd: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let position = 0;
  try {
    for (;;) {
      const { bytesRead } = await readAt(fd, buffer, position);
      if (bytesRead === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
      position += bytesRead;
    }
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks);
}

/** Adds the open connections that `text` (the bytes of /proc/net/tcp or tcp6) lists on `ports` to `table`. */
export function countConnections(text: Buffer, ports: ReadonlySet<number>, table: ConnectionTable = new Map()): ConnectionTable {
  for (const port of ports) countPort(text, port, table);
  return table;
}

/**
 * Lines are "%4d: LOCAL:PORT REMOTE:PORT ST ..." with addresses in 8 (tcp) or 32 (tcp6) hex digits: a
 * native search of the bytes for ":PORT " finds the candidates (a string of several MB would cost far
 * more), and only those on the local side are counted.
 */
function countPort(text: Buffer, port: number, table: ConnectionTable): void {
  const needle = Buffer.from(`:${port.toString(16).toUpperCase().padStart(4, "0")} `, "latin1");
  // A flood comes from few addresses: each one's hex is decoded once per read.
  const decoded = new Map<string, string | undefined>();
  for (let hit = text.indexOf(needle); hit !== -1; hit = text.indexOf(needle, hit + needle.length)) {
    const lineStart = text.lastIndexOf(NEWLINE, hit) + 1;
    const localStart = text.indexOf(SL_END, lineStart) + SL_END.length;
    const width = hit - localStart;
    if (width !== 8 && width !== 32) continue;
    const remoteStart = hit + needle.length;
    const state = remoteStart + width + 6;
    // "01" ESTABLISHED or "08" CLOSE_WAIT: the states that hold a descriptor on the accepting side.
    if (text[state] !== DIGIT_0 || (text[state + 1] !== DIGIT_1 && text[state + 1] !== DIGIT_8)) continue;
    const hex = text.toString("latin1", remoteStart, remoteStart + width);
    let address = decoded.get(hex);
    if (!decoded.has(hex)) decoded.set(hex, (address = addressFromHex(hex)));
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
