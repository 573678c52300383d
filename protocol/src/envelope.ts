import { randomUUID } from "node:crypto";
import { jsonDepthWithin } from "./bounded-json.js";
import { messageLimits, type MessageLimits } from "./limits.js";
import type { ReplayGuard } from "./replay.js";
import { Signer } from "./signer.js";

/** Separates routing identities from the signed part of a message (Jupyter wire protocol). */
export const DELIMITER = Buffer.from("<IDS|MSG>");
export const PROTOCOL_VERSION = "5.3";

export interface Header {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

/** A decoded message. `content` is typed by the caller through the message maps in messages.ts. */
export interface Message<Content = unknown> {
  identities: Buffer[];
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: Content;
  buffers: Buffer[];
}

export interface OutgoingMessage<Content = unknown> {
  identities?: Buffer[];
  header: Header;
  parent_header?: Partial<Header>;
  metadata?: Record<string, unknown>;
  content: Content;
  buffers?: readonly Buffer[];
}

/** Why a message was dropped: the key under which it is counted and its warnings rate-limited. */
export type DropReason = "malformed" | "oversized" | "signature" | "replay" | "too-deep" | "json" | "stale";

export class MessageError extends Error {
  override name = "MessageError";
  constructor(message: string, readonly reason: DropReason = "malformed") {
    super(message);
  }
}

export interface DecodeOptions {
  limits?: MessageLimits;
  /** Refuses signatures seen before; only meaningful with a key. */
  replay?: ReplayGuard;
}

let cachedLimits: MessageLimits | undefined;
function defaultLimits(): MessageLimits {
  return (cachedLimits ??= messageLimits());
}

let counter = 0;
const idPrefix = randomUUID().slice(0, 18);

/** Cheap unique ids: a per-process random prefix plus a counter, avoiding a UUID per tiny task. */
export function newMessageId(): string {
  return `${idPrefix}-${(counter++).toString(36)}`;
}

/** `count` consecutive message ids, reserved at once and spelled only when asked (a big map's tasks). */
export interface MessageIdBlock {
  readonly prefix: string;
  readonly first: number;
  readonly count: number;
}

export function reserveMessageIds(count: number): MessageIdBlock {
  const first = counter;
  counter += count;
  return { prefix: idPrefix, first, count };
}

/** The i-th id of a block, as newMessageId spelled it. */
export function messageIdAt(block: MessageIdBlock, i: number): string {
  return `${block.prefix}-${(block.first + i).toString(36)}`;
}

/** Where an id is in a block, or -1. */
export function messageIdIndex(block: MessageIdBlock, msgId: string): number {
  if (msgId.length <= block.prefix.length + 1 || !msgId.startsWith(block.prefix) || msgId[block.prefix.length] !== "-") return -1;
  const index = parseInt(msgId.slice(block.prefix.length + 1), 36) - block.first;
  return index >= 0 && index < block.count && messageIdAt(block, index) === msgId ? index : -1;
}

export function newHeader(msgType: string, session: string, username = "tsparallel", msgId = newMessageId()): Header {
  return { msg_id: msgId, msg_type: msgType, session, username, date: new Date().toISOString(), version: PROTOCOL_VERSION };
}

/** Encodes a message into ZeroMQ frames: identities, delimiter, signature, 4 JSON frames, buffers. */
export function encodeMessage(signer: Signer, msg: OutgoingMessage): Buffer[] {
  const header = Buffer.from(JSON.stringify(msg.header));
  const parent = Buffer.from(JSON.stringify(msg.parent_header ?? {}));
  const metadata = Buffer.from(JSON.stringify(msg.metadata ?? {}));
  const content = Buffer.from(JSON.stringify(msg.content ?? {}));
  const signature = Buffer.from(signer.sign([header, parent, metadata, content]));
  return [...(msg.identities ?? []), DELIMITER, signature, header, parent, metadata, content, ...(msg.buffers ?? [])];
}

/**
 * Decodes and verifies frames. Throws MessageError for anything malformed, oversized, wrongly signed,
 * replayed, too deeply nested or dated outside the window; callers drop and count such messages,
 * never act on them. Sizes are checked before the HMAC and nesting before JSON.parse, so neither
 * the signature check nor the parser ever works on more than the limits allow.
 */
export function decodeMessage<Content = unknown>(signer: Signer, frames: Buffer[], options: DecodeOptions = {}): Message<Content> {
  const limits = options.limits ?? defaultLimits();
  let total = 0;
  for (const frame of frames) total += frame.length;
  if (total > limits.maxMessageBytes) throw new MessageError(`message of ${total} bytes exceeds the limit of ${limits.maxMessageBytes}`, "oversized");
  const at = frames.findIndex((f) => f.length === DELIMITER.length && f.equals(DELIMITER));
  if (at < 0) throw new MessageError("no <IDS|MSG> delimiter");
  if (frames.length < at + 6) throw new MessageError(`too few frames (${frames.length - at - 1} after the delimiter)`);
  const [signature, header, parent, metadata, content] = frames.slice(at + 1, at + 6) as [Buffer, Buffer, Buffer, Buffer, Buffer];
  for (const frame of [header, parent, metadata, content]) {
    if (frame.length > limits.maxJsonBytes) throw new MessageError(`JSON frame of ${frame.length} bytes exceeds the limit of ${limits.maxJsonBytes}`, "oversized");
  }
  if (!signer.verify(signature, [header, parent, metadata, content])) throw new MessageError("bad signature", "signature");
  if (signer.enabled && options.replay && !options.replay.admit(signature.toString("latin1"))) {
    throw new MessageError("replayed signature", "replay");
  }
  for (const frame of [header, parent, metadata, content]) {
    if (jsonDepthWithin(frame, limits.maxJsonDepth) < 0) throw new MessageError(`JSON nested deeper than ${limits.maxJsonDepth}`, "too-deep");
  }
  let decoded: Message<Content>;
  try {
    decoded = {
      identities: frames.slice(0, at),
      header: JSON.parse(header.toString("utf8")) as Header,
      parent_header: JSON.parse(parent.toString("utf8")) as Partial<Header>,
      metadata: JSON.parse(metadata.toString("utf8")) as Record<string, unknown>,
      content: JSON.parse(content.toString("utf8")) as Content,
      buffers: frames.slice(at + 6),
    };
  } catch (err) {
    throw new MessageError(`invalid JSON frame: ${(err as Error).message}`, "json");
  }
  if (typeof decoded.header?.msg_type !== "string" || typeof decoded.header.msg_id !== "string") {
    throw new MessageError("header lacks msg_id or msg_type");
  }
  if (decoded.content === null || typeof decoded.content !== "object" || Array.isArray(decoded.content)) throw new MessageError("content is not an object");
  if (signer.enabled && options.replay) {
    // A replay that has fallen out of the history is still refused once its date is old.
    const sent = Date.parse(String(decoded.header.date));
    if (!Number.isFinite(sent) || Math.abs(Date.now() - sent) > limits.maxClockSkewMs) {
      throw new MessageError(`header date ${JSON.stringify(decoded.header.date)} is outside the ${limits.maxClockSkewMs} ms window`, "stale");
    }
    if (sent < options.replay.notBefore) {
      throw new MessageError(`header date ${JSON.stringify(decoded.header.date)} is before this receiver's restart; a replay of an earlier message`, "replay");
    }
  }
  return decoded;
}
