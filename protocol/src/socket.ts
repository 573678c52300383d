import { decodeMessage, encodeCompact, encodeMessage, newHeader, MessageError, type DropReason, type Header, type Message, type OutgoingFrame } from "./envelope.js";
import { messageLimits, type MessageLimits } from "./limits.js";
import { RateLimitedWarnings, type Logger } from "./log.js";
import { ReplayGuard } from "./replay.js";
import type { MessageContents, MessageType } from "./messages.js";
import type { Signer } from "./signer.js";

interface WritableSocket {
  send(frames: OutgoingFrame[]): Promise<void>;
  /** zeromq's option: 0 makes every send complete (or fail) synchronously. */
  sendTimeout?: number;
}

export interface SendOptions {
  identities?: Buffer[];
  parent?: Partial<Header>;
  metadata?: Record<string, unknown>;
  buffers?: readonly Buffer[];
  msgId?: string;
}

export type TypedMessage<T extends MessageType> = Message<MessageContents[T]> & { header: { msg_type: T } };

export function isMessage<T extends MessageType>(msg: Message, type: T): msg is TypedMessage<T> {
  return msg.header.msg_type === type;
}

/**
 * How `send` encodes: `compact` (one signed frame, see COMPACT_MAGIC) on the cluster's own sockets,
 * `jupyter` (delimiter, signature, four JSON frames) where a Jupyter peer listens. Receivers take both.
 */
export type WireForm = "compact" | "jupyter";

/**
 * Signs and sends messages on one ZeroMQ socket. Sends are queued and written one at a time: a
 * socket takes one send at a time, and overlapping sends lose messages. A socket made with
 * `sendTimeout: 0` (and no high-water mark) sends synchronously, so it skips the queue and its
 * per-message promise round: that is most of a tiny task's cost.
 */
export class MessageSender {
  readonly #queue: OutgoingFrame[][] = [];
  #head = 0;
  #writing = false;
  #closed = false;

  constructor(
    private readonly socket: WritableSocket,
    private readonly signer: Signer,
    readonly session: string,
    private readonly log: Logger,
    readonly form: WireForm = "jupyter",
  ) {}

  send<T extends MessageType>(type: T, content: MessageContents[T], options: SendOptions = {}): Header {
    const header = newHeader(type, this.session, "tsparallel", options.msgId);
    const msg = { identities: options.identities, header, parent_header: options.parent, metadata: options.metadata, content, buffers: options.buffers };
    this.sendFrames(this.form === "compact" ? encodeCompact(this.signer, msg) : encodeMessage(this.signer, msg));
    return header;
  }

  /** Sends already-encoded frames (a prefix frame such as a PUB topic may lead). */
  sendFrames(frames: OutgoingFrame[]): void {
    if (this.#closed) return;
    if (this.socket.sendTimeout === 0 && !this.#writing) {
      this.socket.send(frames).catch((err: Error) => {
        if (!this.#closed) this.log.warn(`send failed: ${err.message}`);
      });
      return;
    }
    this.#queue.push(frames);
    if (!this.#writing) void this.#drain();
  }

  /** Resolves when every queued message has been handed to ZeroMQ. */
  async flushed(): Promise<void> {
    while (this.#writing || this.#head < this.#queue.length) await new Promise((r) => setImmediate(r));
  }

  close(): void {
    this.#closed = true;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#head < this.#queue.length && !this.#closed) {
        const frames = this.#queue[this.#head]!;
        this.#queue[this.#head++] = undefined as unknown as OutgoingFrame[];
        try {
          await this.socket.send(frames);
        } catch (err) {
          if (this.#closed) return;
          this.log.warn(`send failed: ${(err as Error).message}`);
        }
      }
    } finally {
      if (this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
      this.#writing = false;
    }
  }
}

/** Messages this process dropped, by reason: bad input is counted, never acted on. */
export const droppedMessages: Record<DropReason, number> = {
  malformed: 0, oversized: 0, signature: 0, replay: 0, "too-deep": 0, json: 0, stale: 0,
};

export interface ReceiveOptions {
  limits?: MessageLimits;
  /** Shared by every receive loop of a process that one peer could replay across; one per loop by default. */
  replay?: ReplayGuard;
  /** Interval of the per-peer, per-reason warning about dropped messages. */
  warnIntervalMs?: number;
  /** Told of each message this loop dropped (besides the process-wide `droppedMessages`). */
  onDrop?: (reason: DropReason) => void;
}

/** A short, bounded name for the peer a ROUTER saw (its first identity frame), for warnings. */
function peerOf(frames: Buffer[]): string {
  const first = frames.length > 1 ? frames[0] : undefined;
  return first && first.length <= 64 ? first.toString("hex").slice(0, 16) : "?";
}

/**
 * Yields verified messages from a socket. A malformed, oversized, wrongly signed, replayed or stale
 * message is dropped and counted, never handed on; its warning is rate-limited per peer and reason,
 * so a flood of junk costs a line per interval, not a line per message.
 */
export async function* receiveMessages(socket: AsyncIterable<Buffer[]>, signer: Signer, log: Logger, options: ReceiveOptions = {}): AsyncGenerator<Message> {
  const limits = options.limits ?? messageLimits();
  const replay = options.replay ?? new ReplayGuard(limits.replayHistory);
  const warnings = new RateLimitedWarnings(log, options.warnIntervalMs);
  try {
    for await (const frames of socket) {
      let msg: Message;
      try {
        msg = decodeMessage(signer, frames, { limits, replay });
      } catch (err) {
        if (err instanceof MessageError) {
          droppedMessages[err.reason]++;
          options.onDrop?.(err.reason);
          const peer = peerOf(frames);
          warnings.warn(`${peer}/${err.reason}`, `dropped a bad message from ${peer} (${err.message}); ${droppedMessages[err.reason]} dropped for ${err.reason} so far`);
          continue;
        }
        throw err;
      }
      yield msg;
    }
  } catch (err) {
    // Closing a socket ends its iterator with ETERM/EAGAIN-like errors; anything else is worth a line.
    const code = (err as { code?: string }).code;
    if (code !== "ETERM" && code !== "EAGAIN" && code !== "ENOTSOCK") log.warn(`receive loop ended: ${(err as Error).message}`);
  }
}
