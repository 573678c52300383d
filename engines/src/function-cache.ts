import vm from "node:vm";
import { ByteLru, functionHash, functionWeight, messageLimits, type FunctionRef, type TaskBody } from "@tsparallel/protocol";
import { TaskError } from "./task-errors.js";

type AnyFunction = (...args: unknown[]) => unknown;

interface Entry {
  readonly source: string;
  compiled?: AnyFunction;
}

/**
 * Functions arrive as source once and by hash afterwards. They are compiled in the engine's own
 * context, so their free names resolve in the engine namespace (globalThis). Bounded in bytes of
 * source, least recently used out; the controller keeps a model of this cache (same class, the
 * capacity told at registration) and touches it as it sends, while `arrived` touches this one as
 * tasks arrive, in the same order: the controller resends a source exactly when this cache let it go.
 * A source whose hash is not its own is never taken.
 */
export class FunctionCache {
  readonly #byHash: ByteLru<Entry>;

  constructor(readonly capacity = messageLimits().functionCacheBytes) {
    this.#byHash = new ByteLru(capacity);
  }

  /**
   * Tasks as they arrive, in order: learn the sources they carry, touch the hashes they name, and give
   * each task its source string (shared, not copied), so a task still queued when its source leaves
   * the cache runs all the same.
   */
  arrived(bodies: Iterable<TaskBody>): void {
    for (const body of bodies) this.arrivedOne(body);
  }

  /** One task's body as it arrives (see arrived). */
  arrivedOne(body: TaskBody): void {
    if (body.kind !== "apply" && body.kind !== "map") return;
    const ref = body.fn as Partial<FunctionRef>;
    if (typeof ref.hash !== "string") return;
    if (typeof ref.source !== "string") {
      const known = this.#byHash.get(ref.hash);
      if (known) ref.source = known.source;
      return;
    }
    const known = this.#byHash.peek(ref.hash);
    if (known?.source === ref.source) this.#byHash.get(ref.hash);
    // A mismatch is not learned; the task itself fails when it runs (resolve checks again).
    else if (functionHash(ref.source) === ref.hash) this.#byHash.set(ref.hash, { source: ref.source }, functionWeight(ref.source));
  }

  /**
   * The function of a task that has arrived. Nothing is learned here (only arrivals change the cache,
   * as the controller's model expects); a source that left the cache since is compiled again.
   */
  resolve(ref: FunctionRef): AnyFunction {
    if (typeof ref.source !== "string") {
      throw new TaskError(
        "FunctionNotFound",
        `function ${ref.name || ref.hash} is not known to this engine and no source was sent (hash ${ref.hash})`,
      );
    }
    const entry = this.#byHash.peek(ref.hash);
    if (entry?.source === ref.source) return (entry.compiled ??= compile(ref));
    if (functionHash(ref.source) !== ref.hash) {
      throw new TaskError("FunctionHashMismatch", `the source sent for ${ref.name || "a function"} does not have the hash it was sent under (${ref.hash.slice(0, 16)}); refused`);
    }
    return compile(ref);
  }
}

function compile(ref: FunctionRef): AnyFunction {
  // Strict, as the module code the client wrote it in.
  const fn = vm.compileFunction(`"use strict"; return (${ref.source}\n);`, [], { filename: `<function ${ref.name || "anonymous"}>` })() as unknown;
  if (typeof fn !== "function") throw new TaskError("TypeError", `the source sent for ${ref.name || ref.hash} is not a function`);
  return fn as AnyFunction;
}
