import { describeFunction, functionExpressionSource, packArrayRange, packValue, type TaskBody, type TaskRequirements } from "@tsparallel/protocol";
import { AsyncMapResult } from "../async-map-result.js";
import { AsyncResult } from "../async-result.js";
import type { Client } from "../client.js";
import { isRef } from "../ref.js";

/** packValue's options, made once (every tiny apply packs its arguments). */
const OWN_ARRAY = { ownArray: true } as const;
const NOT_OWN = { ownArray: false } as const;

/**
 * Packs a value for a task. Large typed arrays and ArrayBuffers travel as their own frames, which
 * ZeroMQ sends from the caller's memory some time after the call returns; they are copied here, so
 * what is sent is what the value held when apply/push/map was called, whatever the caller does next
 * (small ones are copied into the payload anyway).
 */
export function packOwned(value: unknown, what: string, copy = true, ownArray = false): Buffer[] {
  const frames = packValue(value, what, ownArray ? OWN_ARRAY : NOT_OWN).frames;
  if (copy) for (let i = 1; i < frames.length; i++) frames[i] = Buffer.from(frames[i]!);
  return frames;
}

type RefPlace = [number, string] | [number, string, (string | number)[]];
/** What stands for a value resolved elsewhere: a Ref's name (on the engine), or a task's result (sent on by the controller). */
type Placeholder = string | AsyncResult<unknown>;
const MAX_REF_DEPTH = 16;

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` with each Ref inside arrays and plain objects (ipyparallel cans lists and dicts)
 * replaced by undefined and its place recorded; containers without a Ref are kept as they are.
 */
function withoutRefs(value: unknown, path: (string | number)[], found: [Placeholder, (string | number)[]][], seen: Set<object>, futures: boolean): unknown {
  if (isRef(value)) {
    found.push([value.name, [...path]]);
    return undefined;
  }
  if (futures && value instanceof AsyncResult) {
    const local = localValue(value);
    if (local.has) return local.value;
    found.push([value, [...path]]);
    return undefined;
  }
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value) || seen.has(value) || path.length >= MAX_REF_DEPTH) return value;
  const isArray = Array.isArray(value);
  if (!isArray && !isPlainObject(value)) return value;
  seen.add(value);
  let copy: Record<string | number, unknown> | unknown[] | undefined;
  const visit = (key: string | number, item: unknown) => {
    if (typeof item !== "object" || item === null) return;
    path.push(key);
    const stripped = withoutRefs(item, path, found, seen, futures);
    path.pop();
    if (stripped !== item) {
      copy ??= isArray ? [...(value as unknown[])] : { ...(value as Record<string, unknown>) };
      (copy as Record<string | number, unknown>)[key] = stripped;
    }
  };
  if (isArray) for (let i = 0; i < (value as unknown[]).length; i++) visit(i, (value as unknown[])[i]);
  else for (const key of Object.keys(value)) visit(key, (value as Record<string, unknown>)[key]);
  seen.delete(value);
  return copy ?? value;
}

/**
 * Values with their Refs (and, for apply, AsyncResults) taken out, and where each was: [index, name]
 * or [index, name, path inside]. Primitives cost nothing, and nothing is copied unless one is found
 * (maps send many items).
 */
function refsOf(values: readonly unknown[], futures = false): { values: readonly unknown[]; refs: RefPlace[]; futures: FuturePlace[] } {
  const refs: RefPlace[] = [];
  const results: FuturePlace[] = [];
  const found: [Placeholder, (string | number)[]][] = [];
  const path: (string | number)[] = [];
  const seen = new Set<object>();
  let stripped: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== "object" || value === null) continue;
    const without = withoutRefs(value, path, found, seen, futures);
    for (const [held, at] of found) {
      const key = typeof held === "string" ? held : held.msgIds[0]!;
      const place: RefPlace = at.length ? [i, key, at] : [i, key];
      (typeof held === "string" ? refs : results).push(place);
    }
    found.length = 0;
    if (without !== value) (stripped ??= values.slice())[i] = without;
  }
  return { values: stripped ?? values, refs, futures: results };
}

type FuturePlace = RefPlace;

/**
 * An AsyncResult argument whose value is here already travels as that value; one still running
 * travels as its task's msgId, and the controller sends its value on to the engine. Only results of
 * one task (apply, or a view on one engine) have one value an engine can take.
 */
function localValue(result: AsyncResult<unknown>): { has: boolean; value?: unknown } {
  if (result instanceof AsyncMapResult) throw new TypeError("a map's result cannot be an argument: pass the result of one task (apply), or await the map first");
  const local = result._localValue();
  if (local === "unsent") throw new TypeError(`task ${result.msgIds[0]} is held back for its own dependencies (after/follow) and has not been sent: await it before passing it as an argument`);
  return local === "remote" ? { has: false } : { has: true, value: local.value };
}

/** An apply body and its frames: Ref arguments (also inside array and object arguments) become names resolved on the engine. */
export function applyTask(client: Client, fn: Function, args: readonly unknown[], copy = true, require?: TaskRequirements): { body: TaskBody; frames: Buffer[] } {
  const shipped = describeFunction(fn);
  // No spreads, and refsOf only when an argument could hold a Ref: thousands of tiny applies a second come here.
  const body: Extract<TaskBody, { kind: "apply" }> = { kind: "apply", fn: client._functionRef(shipped) };
  let values = args;
  if (args.some(isObjectLike)) {
    const found = refsOf(args, true);
    values = found.values;
    if (found.refs.length) body.refs = found.refs;
    if (found.futures.length) body.futures = found.futures;
  }
  if (require) body.require = require;
  // `args` is the array the view's rest parameter made (or refsOf's copy): never the caller's own.
  return { body, frames: packOwned(values, fn.name ? `an argument of ${fn.name}` : "an argument of the function", copy, true) };
}

function isObjectLike(value: unknown): boolean {
  return typeof value === "object" && value !== null;
}

/** A map body over one chunk of items. `first`: the index of the chunk's first item in the whole map (the task stream shows it). */
export function mapTask(client: Client, fn: Function, chunk: readonly unknown[], copy = true, first?: number, require?: TaskRequirements): { body: TaskBody; frames: Buffer[] } {
  const shipped = describeFunction(fn);
  const { frames, refs } = packChunk(chunk, copy);
  return { body: { kind: "map", fn: client._functionRef(shipped), ...(refs ? { refs } : {}), ...(first !== undefined ? { first } : {}), ...(require ? { require } : {}) }, frames };
}

/**
 * A map body over items[start..end), packed straight from the caller's array when the items are all
 * numbers or all strings (packed-arrays.ts: no slice, no clone per item, nothing to copy, no Refs
 * among them), otherwise as mapTask packs the slice.
 */
export function mapTaskRange(client: Client, fn: Function, items: readonly unknown[] | NumberView, start: number, end: number, copy = true, require?: TaskRequirements): { body: TaskBody; frames: Buffer[] } {
  const raw = packArrayRange(items as readonly unknown[], start, end);
  // A typed array's short chunk travels as a plain array of its numbers, as Array.from would make it.
  if (!raw) return mapTask(client, fn, isNumberView(items) ? Array.from(items.subarray(start, end)) : items.slice(start, end), copy, start, require);
  return { body: { kind: "map", fn: client._functionRef(describeFunction(fn)), first: start, ...(require ? { require } : {}) }, frames: [raw] };
}

/**
 * One chunk of map items packed: its frames, and where its Refs were (undefined: none). The chunk is
 * always an array a view sliced (or refsOf copied), never the caller's own, so it may take packValue's
 * number-array form.
 */
export function packChunk(chunk: readonly unknown[], copy = true): { frames: Buffer[]; refs: RefPlace[] | undefined } {
  const { values, refs } = refsOf(chunk);
  return { frames: packOwned(values, "an item", copy, true), refs: refs.length ? refs : undefined };
}

/** Where `parts` contiguous chunks of `length` items of near-equal size begin, and (last) where the items end. */
export function partitionBounds(length: number, parts: number): number[] {
  const bounds = new Array<number>(parts + 1);
  for (let i = 0; i <= parts; i++) bounds[i] = Math.floor((i * length) / parts);
  return bounds;
}

/** A typed array of numbers (not BigInts): a DirectView map packs its chunks from it without making an array of it first. */
export type NumberView = Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | Uint8ClampedArray;

export function isNumberView(value: unknown): value is NumberView {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
}

/** Splits items into `parts` contiguous chunks of near-equal size (the first ones larger by one). */
export function partition<T>(items: readonly T[], parts: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < parts; i++) chunks.push(items.slice(Math.floor((i * items.length) / parts), Math.floor(((i + 1) * items.length) / parts)));
  return chunks;
}

/** Splits items into chunks of `size`. */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunkSize must be a positive integer, got ${size}`);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

export function toArray<T>(items: Iterable<T> | ArrayLike<T>): T[] {
  return Array.isArray(items) ? items : Array.from(items as Iterable<T>);
}

/** What map takes for each parameter of its function: an iterable or an array-like. */
export type Sequence<T> = Iterable<T> | ArrayLike<T>;
export type Sequences<A extends readonly unknown[]> = { [K in keyof A]: Sequence<A[K]> };
/** A map's item type, widened to `| Error` when the map was made with `returnExceptions: true`. */
export type MapItem<R, O> = O extends { returnExceptions: true } ? R | Error : R;

function isSequence(value: unknown): boolean {
  if (typeof value === "string") return true;
  if (typeof value !== "object" || value === null) return false;
  return typeof (value as Iterable<unknown>)[Symbol.iterator] === "function" || typeof (value as ArrayLike<unknown>).length === "number";
}

/** Splits map's rest arguments into its sequences and a trailing options object (never a sequence). */
export function mapArguments<O extends object>(args: readonly unknown[]): { sequences: Sequence<unknown>[]; options: Partial<O> } {
  const list = args.at(-1) === undefined && args.length > 1 ? args.slice(0, -1) : args;
  const last = list.at(-1);
  const hasOptions = list.length > 1 && typeof last === "object" && last !== null && !isSequence(last);
  const sequences = (hasOptions ? list.slice(0, -1) : list) as Sequence<unknown>[];
  if (sequences.length === 0) throw new TypeError("map needs at least one sequence of items");
  sequences.forEach((seq, i) => {
    if (!isSequence(seq)) throw new TypeError(`map's argument ${i + 2} is not a sequence (an iterable or array-like), got ${seq === null ? "null" : typeof seq}`);
  });
  return { sequences, options: (hasOptions ? last : {}) as Partial<O> };
}

const spreaders = new WeakMap<Function, Function>();

/**
 * The items and function of a map over one or several sequences. Several are zipped into argument
 * tuples, stopping at the shortest (as Python 3's map and ipyparallel's), and the function shipped
 * spreads each tuple into its parameters.
 */
export function mapItems(fn: Function, sequences: readonly Sequence<unknown>[]): { fn: Function; items: unknown[] } {
  if (sequences.length === 1) return { fn, items: toArray(sequences[0]!) };
  const iterators = sequences.map((seq) => (typeof seq === "string" || Symbol.iterator in seq ? (seq as Iterable<unknown>)[Symbol.iterator]() : Array.prototype[Symbol.iterator].call(seq as ArrayLike<unknown>)));
  const items: unknown[][] = [];
  try {
    for (;;) {
      const tuple: unknown[] = [];
      for (const it of iterators) {
        const next = it.next();
        if (next.done) return { fn: spreading(fn), items };
        tuple.push(next.value);
      }
      items.push(tuple);
    }
  } finally {
    for (const it of iterators) it.return?.();
  }
}

function spreading(fn: Function): Function {
  let wrapper = spreaders.get(fn);
  if (!wrapper) {
    // Self-contained source (nothing is captured when a function travels): the function expression is
    // evaluated per call, on the engine, where its free names resolve in the engine namespace.
    wrapper = new Function(`return function mapped(args) { return (${functionExpressionSource(fn)}\n)(...args); }`)() as Function;
    spreaders.set(fn, wrapper);
  }
  return wrapper;
}
