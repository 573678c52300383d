import type { Socket } from "node:net";
import { MessageError, decodeMessage, encodeCompact, newHeader, type DropReason, type Message } from "./envelope.js";
import { messageLimits } from "./limits.js";
import type { MessageContents, MessageType } from "./messages.js";
import type { ReplayGuard } from "./replay.js";
import type { Signer } from "./signer.js";
import type { SendOptions } from "./socket.js";
import { StreamFrameReader, writeStreamMessage } from "./stream-frames.js";
import { NO_SIGNATURE } from "./stream-trust.js";

export interface StreamConnectionOptions {
  signer: Signer;
  session: string;
  /** Checks signed messages before the connection is trusted (shared with the ROUTER beside it). */
  replay: ReplayGuard;
  /** Every message that passed the checks, in order. */
  onMessage(msg: Message): void;
  /** A message that failed them: dropped. */
  onBadMessage(reason: DropReason, why: string): void;
  /** Framing that cannot be a message: the stream cannot be resynced, so it is closed after this. */
  onBrokenFraming(reason: DropReason, why: string): void;
  /**
   * The owner hands the bytes in itself (`take`), as a socket connected with `onread` delivers them,
   * instead of the connection listening for "data".
   */
  manualRead?: boolean;
}

/**
 * One direct-stream connection as both ends see it (an engine's DirectStream, a client's DirectLink):
 * frames read as they arrive (stream-frames.ts), each message decoded with the envelope's checks and
 * handed on, or dropped; messages sent in the compact form. Signed and checked message by message until
 * `trust()` (stream-trust.ts: each end calls it when its side of the exchange is done), then unsigned
 * both ways, with the size, frame, depth and JSON checks still on every message.
 */
export class StreamConnection {
  readonly #socket: Socket;
  readonly #opts: StreamConnectionOptions;
  /** What signs this connection's messages: the cluster's key, then none once trusted. */
  #signer: Signer;
  #trusted = false;
  #closed = false;
  readonly #limits = messageLimits();
  readonly #reader: StreamFrameReader;

  constructor(socket: Socket, opts: StreamConnectionOptions) {
    this.#socket = socket;
    this.#opts = opts;
    this.#signer = opts.signer;
    this.#reader = new StreamFrameReader(this.#limits.maxMessageBytes);
    socket.setNoDelay(true);
    if (!opts.manualRead) socket.on("data", this.take);
  }

  /** The next bytes of the stream (a chunk this connection may keep: frames are views into it). */
  readonly take = (chunk: Buffer): void => {
    const socket = this.#socket;
    const opts = this.#opts;
    let messages: Buffer[][];
    try {
      messages = this.#reader.push(chunk);
    } catch (err) {
      opts.onBrokenFraming(err instanceof MessageError ? err.reason : "malformed", (err as Error).message);
      socket.destroy();
      return;
    }
    const limits = this.#limits;
    for (const frames of messages) {
      let msg: Message;
      try {
        msg = this.#trusted ? decodeMessage(NO_SIGNATURE, frames, { limits }) : decodeMessage(opts.signer, frames, { limits, replay: opts.replay });
      } catch (err) {
        opts.onBadMessage(err instanceof MessageError ? err.reason : "malformed", (err as Error).message);
        continue;
      }
      // A handler may have closed the connection: what is left of the chunk is not for anybody.
      if (socket.destroyed) return;
      opts.onMessage(msg);
    }
  };

  get trusted(): boolean {
    return this.#trusted;
  }

  /**
   * Encodes and writes one message at once (a socket write is synchronous): no MessageSender, whose
   * send-promise handling cost a promise, a closure and a microtask per message here.
   */
  send<T extends MessageType>(type: T, content: MessageContents[T], options?: SendOptions): void {
    if (this.#closed) return;
    const header = newHeader(type, this.#opts.session, "tsparallel", options?.msgId);
    const msg = { identities: options?.identities, header, parent_header: options?.parent, metadata: options?.metadata, content, buffers: options?.buffers };
    writeStreamMessage(this.#socket, encodeCompact(this.#signer, msg));
  }

  /** From now on, send unsigned and take unsigned messages (only after this end's side of the exchange). */
  trust(): void {
    if (this.#trusted) return;
    this.#trusted = true;
    this.#signer = NO_SIGNATURE;
  }

  close(): void {
    this.#closed = true;
    this.#socket.destroy();
  }
}
