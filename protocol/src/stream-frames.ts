import type { Socket } from "node:net";
import type { OutgoingFrame } from "./envelope.js";
import { MessageError } from "./envelope.js";

/**
 * A message's frames on a plain byte stream (the direct path's TCP form, see DirectAddress.stream):
 * `u32 bytes` (everything after these 8 header bytes), `u32 count`, `count` times `u32 length`, then
 * the frames' bytes, all big-endian. The sizes come first, so a reader refuses an oversized message
 * before it buffers any of it.
 */
const HEADER_BYTES = 8;
/** Frames of one message at most (a joined-frames message has a handful; a big push a few per value). */
export const MAX_STREAM_FRAMES = 4096;
/**
 * Messages with more value bytes than this go over a direct link's ZeroMQ socket even when it has a
 * stream (in both directions, see DirectLink): ZeroMQ's I/O thread copies them into the kernel while
 * the main thread goes on, where a stream write makes the main thread do it (a 400 KB map chunk costs
 * the sender's loop about a millisecond, a 32 MiB pull three times ZeroMQ's time).
 */
export const STREAM_MAX_BYTES = 64 * 1024;

/** Messages under this size go to the socket as one buffer (one write, no writev bookkeeping). */
const JOIN_BELOW_BYTES = 64 * 1024;

/** The buffers that carry one message: write them in order (small messages come as one buffer). */
export function streamChunks(frames: readonly OutgoingFrame[]): Buffer[] {
  const count = frames.length;
  const headerBytes = HEADER_BYTES + 4 * count;
  // Sizes first: a small message's strings are then encoded once, straight into its one buffer.
  const lengths: number[] = new Array(count);
  let payloadBytes = 0;
  for (let i = 0; i < count; i++) {
    const frame = frames[i]!;
    const length = typeof frame === "string" ? Buffer.byteLength(frame) : frame.length;
    lengths[i] = length;
    payloadBytes += length;
  }
  if (headerBytes + payloadBytes < JOIN_BELOW_BYTES) {
    const out = Buffer.allocUnsafe(headerBytes + payloadBytes);
    writeHeader(out, payloadBytes + 4 * count, lengths);
    let at = headerBytes;
    for (let i = 0; i < count; i++) {
      const frame = frames[i]!;
      if (typeof frame === "string") out.write(frame, at, lengths[i]!);
      else frame.copy(out, at);
      at += lengths[i]!;
    }
    return [out];
  }
  const header = Buffer.allocUnsafe(headerBytes);
  writeHeader(header, payloadBytes + 4 * count, lengths);
  const chunks: Buffer[] = [header];
  for (const frame of frames) chunks.push(typeof frame === "string" ? Buffer.from(frame, "utf8") : frame);
  return chunks;
}

/** Writes one message's frames to a stream socket (nothing once it cannot be written to). */
export function writeStreamMessage(socket: Socket, frames: readonly OutgoingFrame[]): void {
  if (socket.destroyed || !socket.writable) return;
  const chunks = streamChunks(frames);
  if (chunks.length === 1) socket.write(chunks[0]!);
  else {
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
  }
}

function writeHeader(out: Buffer, bytes: number, lengths: readonly number[]): void {
  putU32(out, 0, bytes);
  putU32(out, 4, lengths.length);
  for (let i = 0; i < lengths.length; i++) putU32(out, HEADER_BYTES + 4 * i, lengths[i]!);
}

/** Big-endian, by hand: Buffer's writeUInt32BE checks its arguments on each call (a fresh process runs that interpreted). */
function putU32(out: Buffer, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}

/**
 * Splits a byte stream back into messages' frames. Bounded: a message whose header announces more
 * than `maxMessageBytes` of frames or more than MAX_STREAM_FRAMES frames, or whose frame lengths do
 * not add up, throws a MessageError before anything of it is kept (the stream is then unusable:
 * the caller closes it). Holds at most one message in progress.
 */
export class StreamFrameReader {
  #chunks: Buffer[] = [];
  #held = 0;
  /** Bytes after the 8-byte header of the message in progress, once its header is read. */
  #need = -1;

  constructor(private readonly maxMessageBytes: number) {}

  /** Takes the next chunk of the stream; returns the messages it completed, each as its frames. */
  push(chunk: Buffer): Buffer[][] {
    const out: Buffer[][] = [];
    if (this.#held === 0) {
      // The common case: the chunk holds whole messages, read in place.
      let at = 0;
      while (chunk.length - at >= HEADER_BYTES) {
        const need = this.#check(chunk, at);
        if (chunk.length - at - HEADER_BYTES < need) break;
        out.push(this.#frames(chunk, at, need));
        at += HEADER_BYTES + need;
      }
      if (at < chunk.length) this.#keep(chunk.subarray(at));
      return out;
    }
    this.#keep(chunk);
    for (;;) {
      if (this.#need < 0) {
        if (this.#held < HEADER_BYTES) return out;
        this.#flatten();
        this.#need = this.#check(this.#chunks[0]!, 0);
      }
      if (this.#held < HEADER_BYTES + this.#need) return out;
      this.#flatten();
      const buffer = this.#chunks[0]!;
      const need = this.#need;
      out.push(this.#frames(buffer, 0, need));
      const rest = buffer.subarray(HEADER_BYTES + need);
      this.#chunks = [];
      this.#held = 0;
      this.#need = -1;
      if (rest.length) for (const message of this.push(rest)) out.push(message);
      return out;
    }
  }

  #keep(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#held += chunk.length;
  }

  #flatten(): void {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#held)];
  }

  /** Bytes after the header of the message whose header starts at `at`, checked against the limits. */
  #check(buffer: Buffer, at: number): number {
    const bytes = buffer.readUInt32BE(at);
    const count = buffer.readUInt32BE(at + 4);
    if (count === 0 || count > MAX_STREAM_FRAMES) throw new MessageError(`a stream message of ${count} frames`);
    if (bytes < 4 * count) throw new MessageError("a stream message shorter than its frame table");
    if (bytes - 4 * count > this.maxMessageBytes) throw new MessageError(`message of ${bytes - 4 * count} bytes exceeds the limit of ${this.maxMessageBytes}`, "oversized");
    return bytes;
  }

  #frames(buffer: Buffer, at: number, bytes: number): Buffer[] {
    const count = buffer.readUInt32BE(at + 4);
    const frames: Buffer[] = new Array(count);
    let table = at + HEADER_BYTES;
    let body = table + 4 * count;
    const end = at + HEADER_BYTES + bytes;
    for (let i = 0; i < count; i++, table += 4) {
      const length = buffer.readUInt32BE(table);
      if (body + length > end) throw new MessageError("a stream message's frames overrun it");
      frames[i] = buffer.subarray(body, body + length);
      body += length;
    }
    if (body !== end) throw new MessageError("a stream message's frames do not fill it");
    return frames;
  }
}
