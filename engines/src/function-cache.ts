import vm from "node:vm";
import type { FunctionRef } from "@tsparallel/protocol";
import { TaskError } from "./task-errors.js";

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * Functions arrive as source once and by hash afterwards. They are compiled in the engine's own
 * context, so their free names resolve in the engine namespace (globalThis).
 */
export class FunctionCache {
  readonly #byHash = new Map<string, AnyFunction>();

  resolve(ref: FunctionRef): AnyFunction {
    const known = this.#byHash.get(ref.hash);
    if (known) return known;
    if (typeof ref.source !== "string") {
      throw new TaskError(
        "FunctionNotFound",
        `function ${ref.name || ref.hash} is not known to this engine and no source was sent (hash ${ref.hash})`,
      );
    }
    // Strict, as the module code the client wrote it in.
    const fn = vm.compileFunction(`"use strict"; return (${ref.source}\n);`, [], { filename: `<function ${ref.name || "anonymous"}>` })() as unknown;
    if (typeof fn !== "function") throw new TaskError("TypeError", `the source sent for ${ref.name || ref.hash} is not a function`);
    this.#byHash.set(ref.hash, fn as AnyFunction);
    return fn as AnyFunction;
  }
}
