import { describeFunction, packValue, type TaskBody } from "@tsparallel/protocol";
import type { Client } from "../client.js";
import { isRef } from "../ref.js";

/** An apply body and its frames: Ref arguments become names resolved on the engine. */
export function applyTask(client: Client, fn: Function, args: readonly unknown[]): { body: TaskBody; frames: Buffer[] } {
  const shipped = describeFunction(fn);
  const refs: [number, string][] = [];
  const values = args.map((arg, i) => {
    if (!isRef(arg)) return arg;
    refs.push([i, arg.name]);
    return undefined;
  });
  const frames = packValue(values, "an argument of " + (fn.name || "the function")).frames;
  return { body: { kind: "apply", fn: client._functionRef(shipped), ...(refs.length ? { refs } : {}) }, frames };
}

/** A map body over one chunk of items. */
export function mapTask(client: Client, fn: Function, chunk: readonly unknown[], first: number): { body: TaskBody; frames: Buffer[] } {
  const shipped = describeFunction(fn);
  return { body: { kind: "map", fn: client._functionRef(shipped), first }, frames: packValue(chunk, "an item").frames };
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
