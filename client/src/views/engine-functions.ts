import { FunctionSerializationError, PULLED_FUNCTION, functionExpressionSource, isPulledFunction } from "@tsparallel/protocol";

/** Splits a namespace to push into its functions and its data (functions are not data for structured clone). */
export function splitFunctions(namespace: Record<string, unknown>): { functions: [string, Function][]; data: Record<string, unknown> } {
  const functions: [string, Function][] = [];
  const data: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(namespace)) {
    if (typeof value === "function") functions.push([name, value]);
    else data[name] = value;
  }
  return { functions, data };
}

/**
 * A function that, applied on an engine, defines the given functions as names of its namespace. Their
 * sources are compiled there, inside a function with no locals, so their free names resolve in the
 * engine namespace, as ipyparallel's pushed (interactive) functions do.
 */
export function definerOf(functions: readonly [string, Function][]): Function {
  const lines = functions.map(([name, fn]) => `globalThis[${JSON.stringify(name)}] = (${functionExpressionSource(fn)}\n);`);
  try {
    return new Function(`return function definePushedFunctions() {\n${lines.join("\n")}\n};`)() as Function;
  } catch (err) {
    throw new FunctionSerializationError(`the pushed functions ${functions.map(([n]) => n).join(", ")} cannot be sent: ${(err as Error).message}`);
  }
}

/** A function pulled from an engine, compiled here: its free names resolve in this process's globals. */
export function reviveFunctions(value: unknown): unknown {
  if (!isPulledFunction(value)) return value;
  return new Function(`"use strict"; return (${value[PULLED_FUNCTION]}\n);`)() as unknown;
}
