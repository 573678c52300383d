import { SerializationError } from "./serialization-error.js";

/**
 * Arrays tsparallel builds itself (a map's chunks and a map's results) that hold only numbers or only
 * strings travel in a raw form instead of one structured-clone tag per item, and are read back as a
 * typed view over the received frame, so a map of 200k numbers makes no per-item objects on the way:
 *
 * - numbers that are all int32 (no -0): the marker "I32", then the int32s;
 * - other numbers: "NUM", then the float64s (NaN, -0 and the infinities as they are);
 * - strings: "STR", the count (u32), the text's encoding (u8: 0 latin1 for ASCII, 1 utf8, 2 utf16le
 *   for text with lone surrogates), 3 zero bytes, each string's end in the text (u32, UTF-16 code
 *   units), then the text: all strings end to end.
 *
 * Each marker starts with a transfer count of 2^32-1 in the clone encoding, which no clone payload has.
 * Only such arrays carry no holes or named properties that the raw form would lose.
 */
const HEAD = 8;
const marker = (tag: string): Buffer => Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, ...Buffer.from(tag, "latin1")]);
const FLOAT64 = marker("NUM");
const INT32 = marker("I32");
const STRINGS = marker("STR");
const STRINGS_HEAD = HEAD + 8;
const ENCODINGS = ["latin1", "utf8", "utf16le"] as const;
/** Below this many items the clone stream is as cheap. */
export const PACKED_MIN_ITEMS = 64;
/**
 * Strings are joined this many at a time into one flat string: each string can die young (a rope of
 * them, or an array of all, kept every one alive until the end, and on an engine's 1 MiB young
 * generation that promoted them all: 3-4x the CPU per chunk of short strings).
 */
const JOIN_BLOCK = 1024;
/** Longest text one payload holds (UTF-16 code units), well below V8's longest string. */
const MAX_TEXT = 1 << 28;

/** A received array in its raw form: read it with packedLength, copyPackedInto, packedToArray. */
export type PackedArray =
  | { readonly kind: "numbers"; readonly values: Float64Array | Int32Array }
  | { readonly kind: "strings"; readonly text: string; readonly ends: Uint32Array };

const isInt32 = (x: number): boolean => (x | 0) === x && (x !== 0 || 1 / x > 0);

/**
 * Results of a map chunk written as they are computed: float64s in the frame that will be sent.
 * finish() gives the frame, in the int32 form when every value is one.
 */
export class NumberPayload {
  readonly values: Float64Array;
  readonly #payload: Buffer;

  constructor(count: number) {
    this.#payload = Buffer.allocUnsafeSlow(HEAD + 8 * count);
    this.values = new Float64Array(this.#payload.buffer, this.#payload.byteOffset + HEAD, count);
  }

  finish(): Buffer {
    const values = this.values;
    const n = values.length;
    let ints = true;
    for (let i = 0; i < n && ints; i++) ints = isInt32(values[i]!);
    if (!ints) {
      FLOAT64.copy(this.#payload, 0);
      return this.#payload;
    }
    // In place, front to back: int32 i lands on float64 i/2, which was read already.
    const out = new Int32Array(this.#payload.buffer, this.#payload.byteOffset + HEAD, n);
    for (let i = 0; i < n; i++) out[i] = values[i]!;
    INT32.copy(this.#payload, 0);
    return this.#payload.subarray(0, HEAD + 4 * n);
  }
}

/** Strings added one by one, then packed as one text and their ends. */
export class StringPayload {
  readonly #ends: Uint32Array;
  /** The current block's strings (one array, overwritten block after block: `length = 0` would free its store), and the blocks before it, each joined into one flat string. */
  readonly #block = new Array<string>(JOIN_BLOCK);
  #inBlock = 0;
  readonly #blocks: string[] = [];
  #count = 0;
  #length = 0;

  constructor(capacity: number) {
    this.#ends = new Uint32Array(capacity);
  }

  get count(): number {
    return this.#count;
  }

  add(s: string): void {
    this.#length += s.length;
    if (this.#length > MAX_TEXT) throw new SerializationError(`strings of more than ${MAX_TEXT} characters in all cannot travel in one message`);
    this.#ends[this.#count++] = this.#length;
    this.#block[this.#inBlock++] = s;
    if (this.#inBlock === JOIN_BLOCK) {
      this.#blocks.push(this.#block.join(""));
      this.#inBlock = 0;
    }
  }

  #text(): string {
    if (this.#inBlock) {
      this.#blocks.push(this.#block.slice(0, this.#inBlock).join(""));
      this.#inBlock = 0;
    }
    if (this.#blocks.length > 1) this.#blocks.splice(0, this.#blocks.length, this.#blocks.join(""));
    return this.#blocks[0] ?? "";
  }

  /** The strings added so far, as an array. */
  items(): string[] {
    const out = new Array<string>(this.#count);
    copyStrings(this.#text(), this.#ends.subarray(0, this.#count), out, 0);
    return out;
  }

  finish(): Buffer {
    return packText(this.#text(), this.#ends.subarray(0, this.#count));
  }
}

function packText(text: string, ends: Uint32Array): Buffer {
  const ascii = Buffer.byteLength(text, "utf8") === text.length;
  const encoding = ascii ? 0 : (text as string & { isWellFormed(): boolean }).isWellFormed() ? 1 : 2;
  const name = ENCODINGS[encoding];
  const bytes = ascii ? text.length : Buffer.byteLength(text, name);
  const count = ends.length;
  const payload = Buffer.allocUnsafeSlow(STRINGS_HEAD + 4 * count + bytes);
  STRINGS.copy(payload, 0);
  payload.writeUInt32LE(count, HEAD);
  payload.writeUInt32LE(encoding, HEAD + 4);
  new Uint32Array(payload.buffer, payload.byteOffset + STRINGS_HEAD, count).set(ends);
  payload.write(text, STRINGS_HEAD + 4 * count, bytes, name);
  return payload;
}

function packNumberRange(items: readonly unknown[], start: number, end: number): Buffer | undefined {
  let ints = true;
  for (let i = start; i < end; i++) {
    const x = items[i];
    if (typeof x !== "number") return undefined;
    if (ints) ints = isInt32(x);
  }
  const n = end - start;
  const payload = Buffer.allocUnsafeSlow(HEAD + (ints ? 4 : 8) * n);
  (ints ? INT32 : FLOAT64).copy(payload, 0);
  const out = ints ? new Int32Array(payload.buffer, payload.byteOffset + HEAD, n) : new Float64Array(payload.buffer, payload.byteOffset + HEAD, n);
  for (let i = 0; i < n; i++) out[i] = items[start + i] as number;
  return payload;
}

function packStringRange(items: readonly unknown[], start: number, end: number): Buffer | undefined {
  // Joined in blocks, as results are: a rope over the range packed ~1.5x faster with V8's default
  // young generation but 2.5x slower with the kernel's (8 MiB) or an engine's (1 MiB).
  const out = new StringPayload(end - start);
  for (let i = start; i < end; i++) {
    const s = items[i];
    if (typeof s !== "string") return undefined;
    out.add(s);
  }
  return out.finish();
}

/**
 * items[start..end) in the raw form when they are at least PACKED_MIN_ITEMS and all numbers or all
 * strings (a hole is neither); undefined otherwise. Only for items whose array tsparallel made or
 * reads by index, never a value whose own properties matter.
 */
export function packArrayRange(items: readonly unknown[], start = 0, end = items.length): Buffer | undefined {
  if (end - start < PACKED_MIN_ITEMS) return undefined;
  const first = items[start];
  if (typeof first === "number") return packNumberRange(items, start, end);
  if (typeof first === "string") return packStringRange(items, start, end);
  return undefined;
}

function hasMarker(payload: Buffer, m: Buffer): boolean {
  return payload.compare(m, 0, HEAD, 0, HEAD) === 0;
}

/** A typed array over payload[HEAD..], aligned by one copy when the frame is not. */
function viewAfterHead<T extends Float64Array | Int32Array>(payload: Buffer, Typed: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }): T {
  const size = Typed.BYTES_PER_ELEMENT;
  if ((payload.length - HEAD) % size !== 0) throw new SerializationError("a number-array payload does not fit its element size");
  const count = (payload.length - HEAD) / size;
  const start = payload.byteOffset + HEAD;
  if (start % size === 0 && payload.buffer instanceof ArrayBuffer) return new Typed(payload.buffer, start, count);
  return new Typed(new Uint8Array(payload.buffer, start, count * size).slice().buffer, 0, count);
}

function unpackStrings(payload: Buffer): PackedArray {
  if (payload.length < STRINGS_HEAD) throw new SerializationError("malformed string-array payload");
  const count = payload.readUInt32LE(HEAD);
  const encoding = payload.readUInt32LE(HEAD + 4);
  const textStart = STRINGS_HEAD + 4 * count;
  if (encoding >= ENCODINGS.length || textStart > payload.length) throw new SerializationError("malformed string-array payload");
  const start = payload.byteOffset + STRINGS_HEAD;
  const ends = start % 4 === 0 && payload.buffer instanceof ArrayBuffer
    ? new Uint32Array(payload.buffer, start, count)
    : new Uint32Array(new Uint8Array(payload.buffer, start, 4 * count).slice().buffer);
  const text = payload.toString(ENCODINGS[encoding], textStart);
  let previous = 0;
  for (let i = 0; i < count; i++) {
    const end = ends[i]!;
    if (end < previous) throw new SerializationError("malformed string-array payload");
    previous = end;
  }
  if (previous !== text.length) throw new SerializationError("a string-array payload's text does not match its lengths");
  return { kind: "strings", text, ends };
}

/** The raw form of a single-frame value, or undefined when the payload is not in one. */
export function unpackArray(payload: Buffer): PackedArray | undefined {
  // Cheap refusals first: this runs on every map result, most of them clone or primitive payloads.
  if (payload.length < HEAD || payload[0] !== 0xff || payload[4] !== 0x0f) return undefined;
  const tag = payload[5];
  if (tag !== FLOAT64[5] && tag !== INT32[5] && tag !== STRINGS[5]) return undefined;
  if (hasMarker(payload, FLOAT64)) return { kind: "numbers", values: viewAfterHead(payload, Float64Array) };
  if (hasMarker(payload, INT32)) return { kind: "numbers", values: viewAfterHead(payload, Int32Array) };
  if (hasMarker(payload, STRINGS)) return unpackStrings(payload);
  return undefined;
}

export function packedLength(packed: PackedArray): number {
  return packed.kind === "numbers" ? packed.values.length : packed.ends.length;
}

/** Items of 13 or more characters are V8 sliced strings: one kept item keeps the chunk's text (about the chunk's size) alive. */
function copyStrings(text: string, ends: Uint32Array, target: unknown[], at: number): void {
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    target[at + i] = text.slice(start, end);
    start = end;
  }
}

/** Writes the items into target[at..]: the one copy a map's result needs, no array per chunk. */
export function copyPackedInto(packed: PackedArray, target: unknown[], at: number): void {
  if (packed.kind === "strings") return copyStrings(packed.text, packed.ends, target, at);
  const values = packed.values;
  for (let i = 0; i < values.length; i++) target[at + i] = values[i];
}

export function packedToArray(packed: PackedArray): unknown[] {
  const out = new Array<unknown>(packedLength(packed));
  copyPackedInto(packed, out, 0);
  return out;
}
