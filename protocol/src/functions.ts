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
const EXPRESSION_START = /^(async\s+)?(function\b|class\b|\(|[A-Za-z_$][\w$]*\s*=>)/;

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
  if (EXPRESSION_START.test(text)) return text;
  const key = JSON.stringify(fn.name);
  return `({ ${text} })[${key}]`;
}

/** Describes a function for shipping; throws FunctionSerializationError before anything is sent. */
export function describeFunction(fn: unknown): ShippedFunction {
  if (typeof fn !== "function") throw new FunctionSerializationError(`expected a function, got ${typeof fn}`);
  const known = cache.get(fn);
  if (known) return known;
  const source = functionExpressionSource(fn);
  try {
    // Compiles without running, so a source the engine could not evaluate fails here, not remotely.
    new Function(`return (${source});`);
  } catch (err) {
    throw new FunctionSerializationError(`the source of ${fn.name || "this function"} cannot be sent: ${(err as Error).message}`);
  }
  const shipped: ShippedFunction = { hash: createHash("sha1").update(source).digest("hex"), source, name: fn.name };
  cache.set(fn, shipped);
  return shipped;
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
