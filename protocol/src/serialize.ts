import v8 from "node:v8";
import { packArrayRange, packedToArray, unpackArray } from "./packed-arrays.js";
import { SerializationError } from "./serialization-error.js";

export { SerializationError };

/**
 * Values travel as v8 structured clone. Typed arrays, Buffers and ArrayBuffers of at least this many
 * bytes leave the clone stream and travel as their own ZeroMQ frames, so big numeric data is never
 * copied into a serialization buffer, base64'd or JSON'd.
 */
export const OUT_OF_BAND_BYTES = 32 * 1024;

/** A serialized value: `payload` first, then the out-of-band frames it refers to. */
export interface PackedValue {
  frames: Buffer[];
}

const VIEW_TYPES = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView, Buffer,
] as const;
type ViewConstructor = (typeof VIEW_TYPES)[number];
const BUFFER_TYPE = VIEW_TYPES.indexOf(Buffer);

function viewTypeIndex(view: ArrayBufferView): number {
  if (Buffer.isBuffer(view)) return BUFFER_TYPE;
  const index = VIEW_TYPES.findIndex((ctor) => view.constructor === ctor);
  if (index < 0) {
    // A subclass (or a view from another realm): fall back to the nearest known type by tag.
    const tag = Object.prototype.toString.call(view).slice(8, -1);
    const byTag = VIEW_TYPES.findIndex((ctor) => ctor.name === tag);
    if (byTag >= 0) return byTag;
    throw new SerializationError(`cannot send a ${tag}`);
  }
  return index;
}

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

class FrameSerializer extends v8.Serializer {
  readonly frames: Buffer[] = [];

  constructor() {
    super();
    (this as unknown as { _setTreatArrayBufferViewsAsHostObjects(on: boolean): void })._setTreatArrayBufferViewsAsHostObjects(true);
  }

  _writeHostObject(view: ArrayBufferView): void {
    this.writeUint32(viewTypeIndex(view));
    if (view.byteLength >= OUT_OF_BAND_BYTES) {
      this.writeUint32(1);
      this.writeUint32(this.frames.length);
      this.frames.push(bytesOf(view));
    } else {
      this.writeUint32(0);
      this.writeUint32(view.byteLength);
      this.writeRawBytes(bytesOf(view));
    }
  }
}

function alignedArrayBuffer(bytes: Buffer, alignment: number): { buffer: ArrayBuffer; offset: number } {
  if (bytes.byteOffset % alignment === 0 && !(bytes.buffer instanceof SharedArrayBuffer)) {
    return { buffer: bytes.buffer as ArrayBuffer, offset: bytes.byteOffset };
  }
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return { buffer: copy, offset: 0 };
}

function makeView(type: number, bytes: Buffer): ArrayBufferView {
  const ctor: ViewConstructor | undefined = VIEW_TYPES[type];
  if (!ctor) throw new SerializationError(`unknown array type ${type} in message`);
  if (ctor === Buffer) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const elementSize = ctor === DataView ? 1 : (ctor as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (bytes.byteLength % elementSize !== 0) throw new SerializationError("array byte length does not fit its element type");
  const { buffer, offset } = alignedArrayBuffer(bytes, elementSize);
  if (ctor === DataView) return new DataView(buffer, offset, bytes.byteLength);
  const Typed = ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView;
  return new Typed(buffer, offset, bytes.byteLength / elementSize);
}

class FrameDeserializer extends v8.Deserializer {
  constructor(payload: Buffer, private readonly frames: readonly Buffer[]) {
    super(payload);
  }

  _readHostObject(): ArrayBufferView {
    const type = this.readUint32();
    const outOfBand = this.readUint32() === 1;
    if (outOfBand) {
      const frame = this.frames[this.readUint32()];
      if (!frame) throw new SerializationError("message refers to a missing buffer frame");
      return makeView(type, frame);
    }
    const length = this.readUint32();
    // Copy: the raw bytes alias the whole payload, which must not stay alive through a small view.
    return makeView(type, Buffer.from(this.readRawBytes(length)));
  }
}

/**
 * Large plain ArrayBuffers are found by a walk, since V8 only hands views to the host-object hook.
 * Indexed loops and no work for primitives keep this cheap even before the JIT warms up.
 */
function collectLargeArrayBuffers(value: unknown, found: ArrayBuffer[], seen: Set<object>): void {
  if (value === null || typeof value !== "object" || ArrayBuffer.isView(value) || seen.has(value)) return;
  seen.add(value);
  if (value instanceof ArrayBuffer) {
    if (value.byteLength >= OUT_OF_BAND_BYTES) found.push(value);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === "object" && item !== null) collectLargeArrayBuffers(item, found, seen);
    }
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      collectLargeArrayBuffers(k, found, seen);
      collectLargeArrayBuffers(v, found, seen);
    }
  } else if (value instanceof Set) {
    for (const v of value) collectLargeArrayBuffers(v, found, seen);
  } else {
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (typeof item === "object" && item !== null) collectLargeArrayBuffers(item, found, seen);
    }
  }
}

function describeCloneFailure(err: unknown, what: string): SerializationError {
  const message = err instanceof Error ? err.message : String(err);
  let hint = "";
  if (message.includes("tsparallel.ref")) hint = ": ref() can only be passed as a direct argument of apply, not inside data";
  else if (/function|=>/.test(message)) hint = ": functions can travel only as the function of apply/map; inside data they cannot be sent";
  else if (/Symbol/.test(message)) hint = ": symbols cannot be sent";
  return new SerializationError(`${what} cannot be sent to an engine (${message.replace(/\.$/, "")})${hint}`);
}

/**
 * A primitive (number, boolean, null, undefined, well-formed string), or an array tsparallel built of at
 * most PRIMITIVES_MAX_ITEMS numbers, booleans, null and undefined (apply's arguments), travels without a
 * v8 serializer: this marker (a transfer count of 2^32-1, as the raw array forms of packed-arrays.ts, then "PRM"), then one tag
 * byte per value and its bytes. A tiny task's argument and result were two serializer objects each.
 */
const PRIMITIVES_MARKER = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x50, 0x52, 0x4d]);
const PRIMITIVES_MAX_ITEMS = 16;
const TAG = { number: 0x6e, null: 0x7a, undefined: 0x75, true: 0x74, false: 0x66, string: 0x73, array: 0x61 } as const;

function isFlatPrimitive(value: unknown): boolean {
  return value === null || value === undefined || typeof value === "number" || typeof value === "boolean";
}

function primitiveSize(value: unknown): number {
  return typeof value === "number" ? 9 : 1;
}

function writePrimitive(payload: Buffer, at: number, value: unknown): number {
  if (typeof value === "number") {
    payload[at] = TAG.number;
    payload.writeDoubleLE(value, at + 1);
    return at + 9;
  }
  payload[at] = value === null ? TAG.null : value === undefined ? TAG.undefined : value ? TAG.true : TAG.false;
  return at + 1;
}

/** The primitive form of `value`, or undefined when it does not qualify. */
function packPrimitives(value: unknown, ownArray: boolean): Buffer | undefined {
  const head = PRIMITIVES_MARKER.length;
  if (isFlatPrimitive(value)) {
    const payload = Buffer.allocUnsafe(head + primitiveSize(value));
    PRIMITIVES_MARKER.copy(payload, 0);
    writePrimitive(payload, head, value);
    return payload;
  }
  if (typeof value === "string") {
    if (value.length > 256 || !(value as string & { isWellFormed(): boolean }).isWellFormed()) return undefined;
    const payload = Buffer.allocUnsafe(head + 1 + Buffer.byteLength(value));
    PRIMITIVES_MARKER.copy(payload, 0);
    payload[head] = TAG.string;
    payload.write(value, head + 1);
    return payload;
  }
  if (!ownArray || !Array.isArray(value) || value.length > PRIMITIVES_MAX_ITEMS || Object.getPrototypeOf(value) !== Array.prototype) return undefined;
  let size = head + 2;
  for (let i = 0; i < value.length; i++) {
    // A hole would come back as undefined: the clone keeps it, so such arrays take the clone.
    if (!(i in value) || !isFlatPrimitive(value[i])) return undefined;
    size += primitiveSize(value[i]);
  }
  const payload = Buffer.allocUnsafe(size);
  PRIMITIVES_MARKER.copy(payload, 0);
  payload[head] = TAG.array;
  payload[head + 1] = value.length;
  let at = head + 2;
  for (let i = 0; i < value.length; i++) at = writePrimitive(payload, at, value[i]);
  return payload;
}

/**
 * The byte size of items[start..end) in the primitive form packValue gives the array of them (a map
 * chunk: `ownArray`), or -1 when they do not take it (too many, a hole, anything but a number,
 * boolean, null or undefined). With writePrimitivesRange a map packs a small chunk straight into its
 * own block, without a slice or a Buffer per chunk.
 */
export function primitivesRangeSize(items: readonly unknown[], start: number, end: number): number {
  if (end - start > PRIMITIVES_MAX_ITEMS || end <= start) return -1;
  let size = PRIMITIVES_MARKER.length + 2;
  for (let i = start; i < end; i++) {
    if (!(i in items) || !isFlatPrimitive(items[i])) return -1;
    size += primitiveSize(items[i]);
  }
  return size;
}

/** Writes items[start..end) at target[at..] as packValue's primitive form of their array; primitivesRangeSize said its size. */
export function writePrimitivesRange(items: readonly unknown[], start: number, end: number, target: Buffer, at: number): void {
  PRIMITIVES_MARKER.copy(target, at);
  at += PRIMITIVES_MARKER.length;
  target[at] = TAG.array;
  target[at + 1] = end - start;
  at += 2;
  for (let i = start; i < end; i++) at = writePrimitive(target, at, items[i]);
}

function isPrimitivesPayload(payload: Buffer): boolean {
  // Byte by byte: Buffer#compare checks its five arguments in JavaScript and calls into C++ (~100 ns
  // against ~20), once per tiny value unpacked in every process.
  if (payload.length <= PRIMITIVES_MARKER.length) return false;
  for (let i = 0; i < PRIMITIVES_MARKER.length; i++) if (payload[i] !== PRIMITIVES_MARKER[i]) return false;
  return true;
}

function readPrimitive(payload: Buffer, at: number): [unknown, number] {
  switch (payload[at]) {
    case TAG.number:
      if (at + 9 > payload.length) break;
      return [payload.readDoubleLE(at + 1), at + 9];
    case TAG.null: return [null, at + 1];
    case TAG.undefined: return [undefined, at + 1];
    case TAG.true: return [true, at + 1];
    case TAG.false: return [false, at + 1];
  }
  throw new SerializationError("malformed primitive payload");
}

function unpackPrimitives(payload: Buffer): unknown {
  const head = PRIMITIVES_MARKER.length;
  const tag = payload[head];
  if (tag === TAG.string) return payload.toString("utf8", head + 1);
  if (tag !== TAG.array) {
    const [value, end] = readPrimitive(payload, head);
    if (end !== payload.length) throw new SerializationError("malformed primitive payload");
    return value;
  }
  const count = payload[head + 1];
  if (count === undefined || count > PRIMITIVES_MAX_ITEMS) throw new SerializationError("malformed primitive payload");
  const items = new Array<unknown>(count);
  let at = head + 2;
  for (let i = 0; i < count; i++) [items[i], at] = readPrimitive(payload, at);
  if (at !== payload.length) throw new SerializationError("malformed primitive payload");
  return items;
}

export interface PackOptions {
  /** The value is an array tsparallel built (a map chunk or a map's results): numbers-only and strings-only ones take a raw form (packed-arrays.ts). */
  ownArray?: boolean;
}

/**
 * Serializes a value into frames. Throws SerializationError, before anything is sent, for values
 * that cannot travel (functions or symbols inside data, WeakMaps, class instances with native state...).
 * The payload starts with the frame indexes of transferred ArrayBuffers (a count, then the indexes),
 * written by the serializer itself so that a tiny value costs one allocation.
 */
export function packValue(value: unknown, what = "value", options: PackOptions = {}): PackedValue {
  if (options.ownArray && Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype) {
    const raw = packArrayRange(value);
    if (raw) return { frames: [raw] };
  }
  const primitives = packPrimitives(value, options.ownArray === true);
  if (primitives) return { frames: [primitives] };
  const serializer = new FrameSerializer();
  const arrayBuffers: ArrayBuffer[] = [];
  if (typeof value === "object" && value !== null) collectLargeArrayBuffers(value, arrayBuffers, new Set());
  serializer.writeUint32(arrayBuffers.length);
  for (const ab of arrayBuffers) {
    serializer.writeUint32(serializer.frames.length);
    serializer.transferArrayBuffer(serializer.frames.length, ab);
    serializer.frames.push(Buffer.from(ab));
  }
  serializer.writeHeader();
  try {
    serializer.writeValue(value);
  } catch (err) {
    throw describeCloneFailure(err, what);
  }
  const payload = serializer.releaseBuffer();
  return { frames: serializer.frames.length ? [payload, ...serializer.frames] : [payload] };
}

/** Inverse of packValue. `frames[0]` is the payload; the rest are its out-of-band buffers. */
export function unpackValue<T = unknown>(frames: readonly Buffer[]): T {
  const payload = frames[0];
  if (!payload || payload.length < 2) throw new SerializationError("empty value payload");
  const raw = unpackArray(payload);
  if (raw) {
    if (frames.length > 1) throw new SerializationError("an array payload in raw form has no buffer frames");
    return packedToArray(raw) as T;
  }
  if (isPrimitivesPayload(payload)) {
    if (frames.length > 1) throw new SerializationError("a primitive payload has no buffer frames");
    return unpackPrimitives(payload) as T;
  }
  const extra = frames.length > 1 ? frames.slice(1) : [];
  const deserializer = new FrameDeserializer(payload, extra);
  try {
    const transfers = deserializer.readUint32();
    for (let i = 0; i < transfers; i++) {
      const index = deserializer.readUint32();
      const frame = extra[index];
      if (!frame) throw new SerializationError("message refers to a missing buffer frame");
      const whole = frame.byteOffset === 0 && frame.buffer.byteLength === frame.byteLength && frame.buffer instanceof ArrayBuffer;
      deserializer.transferArrayBuffer(index, whole ? (frame.buffer as ArrayBuffer) : new Uint8Array(frame).slice().buffer);
    }
    deserializer.readHeader();
    return deserializer.readValue() as T;
  } catch (err) {
    if (err instanceof SerializationError) throw err;
    throw new SerializationError(`malformed value payload: ${(err as Error).message}`);
  }
}

/** Splits a flat frame list into consecutive groups of the given sizes (one group per task or value). */
export function splitFrames(frames: readonly Buffer[], counts: readonly number[]): Buffer[][] {
  const groups: Buffer[][] = [];
  let at = 0;
  for (const count of counts) {
    if (!Number.isInteger(count) || count < 0 || at + count > frames.length) {
      throw new SerializationError("message buffer counts do not match its frames");
    }
    groups.push(frames.slice(at, at + count));
    at += count;
  }
  return groups;
}
