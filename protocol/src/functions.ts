import { createHash } from "node:crypto";

/** A function as it travels: its JavaScript source, compiled once per engine and cached by hash. */
export interface ShippedFunction {
  hash: string;
  source: string;
  name: string;
}

export class FunctionSerializationError extends TypeError {
  override name = "FunctionSerializationError";
}

const cache = new WeakMap<Function, ShippedFunction>();

/**
 * Gives the source to send for a function that needs more than its own text: the notebook kernel
 * sends a notebook function together with the notebook values, functions and imports it uses.
 * Returns undefined for a function to send as written; throws FunctionSerializationError for one
 * that cannot travel.
 */
export type FunctionPackager = (fn: Function) => string | undefined;
let packager: FunctionPackager | null = null;

/** Installs (or, with null, removes) the process's function packager. */
export function setFunctionPackager(next: FunctionPackager | null): void {
  packager = next;
}
const EXPRESSION_START = /^(async\s+)?(function\b|class\b|\(|[A-Za-z_$][\w$]*\s*=>)/;
/** An arrow, or a function or class expression without a name of its own. */
const ANONYMOUS = /^(async\s+)?(function\s*\*?\s*\(|class\s*(\{|extends\b)|\(|[A-Za-z_$][\w$]*\s*=>)/;

/**
 * The source an engine evaluates to get the function back. Method shorthand (`f(x) {...}`) is not an
 * expression on its own, so it is wrapped in an object literal and read back by name.
 */
export function functionExpressionSource(fn: Function): string {
  const text = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(text)) {
    throw new FunctionSerializationError(
      `${fn.name || "this function"} is native or bound and has no source to send; wrap it: (...a) => ${fn.name || "f"}(...a)`,
    );
  }
  const key = JSON.stringify(fn.name);
  if (EXPRESSION_START.test(text)) {
    // `const f = (x) => ...` is named "f" only by its declaration: an object property keeps that name on the engine.
    return fn.name && ANONYMOUS.test(text) ? `({ ${key}: ${text} })[${key}]` : text;
  }
  return `({ ${text} })[${key}]`;
}

/** Describes a function for shipping; throws FunctionSerializationError before anything is sent. */
export function describeFunction(fn: unknown): ShippedFunction {
  if (typeof fn !== "function") throw new FunctionSerializationError(`expected a function, got ${typeof fn}`);
  // Not cached by function: what a packaged function uses may have changed since its last trip.
  const packaged = packager?.(fn);
  if (packaged !== undefined) return shippable(packaged, fn);
  const known = cache.get(fn);
  if (known) return known;
  const shipped = shippable(functionExpressionSource(fn), fn);
  cache.set(fn, shipped);
  return shipped;
}

function shippable(source: string, fn: Function): ShippedFunction {
  try {
    // Compiles without running, so a source the engine could not evaluate fails here, not remotely.
    new Function(`return (${source});`);
  } catch (err) {
    throw new FunctionSerializationError(`the source of ${fn.name || "this function"} cannot be sent: ${(err as Error).message}`);
  }
  return { hash: functionHash(source), source, name: fn.name };
}

/**
 * The hash a function travels under; a receiver recomputes it from the source and refuses a mismatch.
 * SHA-256, not SHA-1: a key holder who could make two sources collide could still poison the cache.
 */
export function functionHash(source: string): string {
  return createHash("sha256").update(source).digest("hex");
}

/** The bytes a source is counted for in a function cache (UTF-16 code units, the same on every side). */
export function functionWeight(source: string): number {
  return source.length * 2 + 64;
}

/**
 * A function pulled from an engine travels as `{ [PULLED_FUNCTION]: source, name }` (a function is not
 * data for structured clone); the client compiles it back into a function.
 */
export const PULLED_FUNCTION = "__tsparallel_pulled_function__";

export interface PulledFunction {
  [PULLED_FUNCTION]: string;
  name: string;
}

export function isPulledFunction(value: unknown): value is PulledFunction {
  return typeof value === "object" && value !== null && typeof (value as Record<string, unknown>)[PULLED_FUNCTION] === "string";
}
