import { randomUUID } from "node:crypto";
import { jsonDepthFits } from "./bounded-json.js";
import { joinable, joinFrames, splitJoined } from "./joined-frames.js";
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

/** Encodes a message into ZeroMQ frames: identities, delimiter, signature, 4 JSON frames, buffers (Jupyter's form). */
export function encodeMessage(signer: Signer, msg: OutgoingMessage): Buffer[] {
  const header = Buffer.from(JSON.stringify(msg.header));
  const parent = Buffer.from(JSON.stringify(msg.parent_header ?? {}));
  const metadata = Buffer.from(JSON.stringify(msg.metadata ?? {}));
  const content = Buffer.from(JSON.stringify(msg.content ?? {}));
  const signature = Buffer.from(signer.sign([header, parent, metadata, content]));
  return [...(msg.identities ?? []), DELIMITER, signature, header, parent, metadata, content, ...(msg.buffers ?? [])];
}

/**
 * Starts the one signed frame of the compact form, which the cluster's own sockets speak:
 * `<TSP|MSG>` + signature (hex, empty without a key) + `[header, parent_header, metadata, content]`
 * as one JSON text; the HMAC is over that JSON text. It takes the place of the delimiter, the
 * signature and the four JSON frames (routing identities before it, value frames after it stay).
 */
export const COMPACT_MAGIC = "<TSP|MSG>";
const COMPACT_MAGIC_BYTES = Buffer.from(COMPACT_MAGIC, "latin1");
/** A signature longer than this is malformed (HMAC-SHA256 in hex is 64 characters). */
const MAX_SIGNATURE_CHARS = 128;
const OPEN_BRACKET = 0x5b;

/** A frame to hand to ZeroMQ: a string is sent as its UTF-8 bytes. */
export type OutgoingFrame = Buffer | string;

/**
 * Encodes a message in the compact form: identities, ONE signed frame, buffers. The signed frame is a
 * string: ZeroMQ copies it into its own memory, where a Buffer over 128 bytes would be sent zero-copy
 * and released later through a wake-up of this process's event loop (one per message).
 */
export function encodeCompact(signer: Signer, msg: OutgoingMessage): OutgoingFrame[] {
  let buffers = msg.buffers ?? [];
  // Several small value frames go as one (joined-frames.ts); the signed part says how many it holds.
  const joined = joinable(buffers);
  const json = joined
    ? JSON.stringify([msg.header, msg.parent_header ?? {}, msg.metadata ?? {}, msg.content ?? {}, buffers.length])
    : JSON.stringify([msg.header, msg.parent_header ?? {}, msg.metadata ?? {}, msg.content ?? {}]);
  if (joined) buffers = [joinFrames(buffers)];
  const signed = COMPACT_MAGIC + signer.sign([json]) + json;
  const identities = msg.identities ?? [];
  if (identities.length === 0 && buffers.length === 0) return [signed];
  const frames: OutgoingFrame[] = [];
  for (let i = 0; i < identities.length; i++) frames.push(identities[i]!);
  frames.push(signed);
  for (let i = 0; i < buffers.length; i++) frames.push(buffers[i]!);
  return frames;
}

function isCompactFrame(frame: Buffer): boolean {
  return frame.length > COMPACT_MAGIC_BYTES.length && frame[0] === 0x3c && frame.subarray(0, COMPACT_MAGIC_BYTES.length).equals(COMPACT_MAGIC_BYTES);
}

/**
 * Decodes and verifies frames. Throws MessageError for anything malformed, oversized, wrongly signed,
 * replayed, too deeply nested or dated outside the window; callers drop and count such messages,
 * never act on them. Sizes are checked before the HMAC and nesting before JSON.parse, so neither
 * the signature check nor the parser ever works on more than the limits allow. Takes either form:
 * Jupyter's (delimiter, signature, four JSON frames) or the compact one (see COMPACT_MAGIC).
 */
export function decodeMessage<Content = unknown>(signer: Signer, frames: Buffer[], options: DecodeOptions = {}): Message<Content> {
  const limits = options.limits ?? defaultLimits();
  let total = 0;
  for (let i = 0; i < frames.length; i++) total += frames[i]!.length;
  if (total > limits.maxMessageBytes) throw new MessageError(`message of ${total} bytes exceeds the limit of ${limits.maxMessageBytes}`, "oversized");
  // Identities come first; the first frame that is the delimiter or a compact frame ends them.
  let at = -1;
  let compact = false;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    if (frame.length === DELIMITER.length && frame.equals(DELIMITER)) {
      at = i;
      break;
    }
    if (isCompactFrame(frame)) {
      at = i;
      compact = true;
      break;
    }
  }
  if (at < 0) throw new MessageError("no <IDS|MSG> delimiter");
  const decoded = compact ? decodeCompact<Content>(signer, frames, at, limits, options.replay) : decodeJupyter<Content>(signer, frames, at, limits, options.replay);
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

/** Jupyter's form: delimiter, signature, header, parent, metadata, content, buffers. */
function decodeJupyter<Content>(signer: Signer, frames: Buffer[], at: number, limits: MessageLimits, replay: ReplayGuard | undefined): Message<Content> {
  if (frames.length < at + 6) throw new MessageError(`too few frames (${frames.length - at - 1} after the delimiter)`);
  const [signature, header, parent, metadata, content] = frames.slice(at + 1, at + 6) as [Buffer, Buffer, Buffer, Buffer, Buffer];
  for (const frame of [header, parent, metadata, content]) {
    if (frame.length > limits.maxJsonBytes) throw new MessageError(`JSON frame of ${frame.length} bytes exceeds the limit of ${limits.maxJsonBytes}`, "oversized");
  }
  if (!signer.verify(signature, [header, parent, metadata, content])) throw new MessageError("bad signature", "signature");
  if (signer.enabled && replay && !replay.admit(signature.toString("latin1"))) {
    throw new MessageError("replayed signature", "replay");
  }
  for (const frame of [header, parent, metadata, content]) {
    if (!jsonDepthFits(frame, limits.maxJsonDepth)) throw new MessageError(`JSON nested deeper than ${limits.maxJsonDepth}`, "too-deep");
  }
  try {
    return {
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
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/** The compact form (see COMPACT_MAGIC): the same checks, in the same order, on its one JSON text. */
function decodeCompact<Content>(signer: Signer, frames: Buffer[], at: number, limits: MessageLimits, replay: ReplayGuard | undefined): Message<Content> {
  const frame = frames[at]!;
  const sigStart = COMPACT_MAGIC_BYTES.length;
  const sigLength = frame.subarray(sigStart, sigStart + MAX_SIGNATURE_CHARS + 1).indexOf(OPEN_BRACKET);
  if (sigLength < 0) throw new MessageError("compact frame without a JSON array after its signature");
  const jsonStart = sigStart + sigLength;
  const json = frame.subarray(jsonStart);
  if (json.length > limits.maxJsonBytes) throw new MessageError(`JSON frame of ${json.length} bytes exceeds the limit of ${limits.maxJsonBytes}`, "oversized");
  if (!signer.verify(frame.subarray(sigStart, jsonStart), [json])) throw new MessageError("bad signature", "signature");
  if (signer.enabled && replay && !replay.admit(frame.toString("latin1", sigStart, jsonStart))) {
    throw new MessageError("replayed signature", "replay");
  }
  // One level more than the limit: the array that holds the four parts.
  if (!jsonDepthFits(json, limits.maxJsonDepth + 1)) throw new MessageError(`JSON nested deeper than ${limits.maxJsonDepth}`, "too-deep");
  let parts: unknown;
  try {
    // toString() without an encoding is UTF-8 without Buffer's encoding lookup.
    parts = JSON.parse(json.toString());
  } catch (err) {
    throw new MessageError(`invalid JSON frame: ${(err as Error).message}`, "json");
  }
  if (!Array.isArray(parts) || (parts.length !== 4 && parts.length !== 5)) throw new MessageError("compact frame is not [header, parent_header, metadata, content] (and a joined frame's count)");
  const [header, parent, metadata, content, joined] = parts as [unknown, unknown, unknown, unknown, unknown];
  if (!isObject(header) || !isObject(parent) || !isObject(metadata)) throw new MessageError("compact frame's header, parent_header or metadata is not an object");
  let buffers = frames.slice(at + 1);
  if (parts.length === 5) {
    if (buffers.length !== 1) throw new MessageError(`a joined frame's message has ${buffers.length} value frames, not 1`);
    try {
      buffers = splitJoined(buffers[0]!, joined as number);
    } catch (err) {
      throw new MessageError((err as Error).message);
    }
  }
  return {
    identities: frames.slice(0, at),
    header: header as unknown as Header,
    parent_header: parent as Partial<Header>,
    metadata,
    content: content as Content,
    buffers,
  };
}
