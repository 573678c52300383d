import { PULLED_FUNCTION, functionExpressionSource, unpackArray, unpackValue, type PulledFunction, type TaskBody } from "@tsparallel/protocol";
import { CellExecutor, type CellOutcome } from "./execute-task.js";
import { FunctionCache } from "./function-cache.js";
import { callInterruptibly } from "./interrupt.js";
import { runPackedChunk, type ChunkResults } from "./map-chunk.js";
import { Requirements } from "./requirements.js";
import type { Namespace } from "./namespace.js";
import { TaskError } from "./task-errors.js";

/** What a task produced, before packing. */
export interface TaskOutcome {
  /** Whether `value` is sent back (packed into result frames). */
  hasValue: boolean;
  value?: unknown;
  /** execute only: a value that cannot travel is still shown by repr, and is not an error. */
  valueOptional?: boolean;
  /** `value` is an array the engine built (a map's results): see packValue's `ownArray`. */
  ownArray?: boolean;
  /** The value already packed (a map chunk's results, written into their frame as they were computed). */
  frames?: Buffer[];
}

export const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";

function unpackFrames<T>(frames: Buffer[], what: string): T {
  if (frames.length === 0) throw new TaskError("ValueError", `the ${what} frames are missing`);
  return unpackValue<T>(frames);
}

/** Sets a value inside nested arrays/objects; refuses keys that would reach a prototype. */
function placeAt(root: unknown[], path: (string | number)[], value: unknown): void {
  let container: unknown = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    if (key === "__proto__" || key === "constructor" || key === "prototype") throw new TaskError("TypeError", `a reference cannot be placed under ${JSON.stringify(key)}`);
    if (container === null || typeof container !== "object") throw new TaskError("TypeError", "a reference's place in its argument is missing");
    if (i === path.length - 1) (container as Record<string | number, unknown>)[key] = value;
    else container = (container as Record<string | number, unknown>)[key];
  }
}

/** A pulled function travels as its source (structured clone refuses functions); the client compiles it back. */
function pullable(value: unknown): unknown {
  if (typeof value !== "function") return value;
  const pulled: PulledFunction = { [PULLED_FUNCTION]: functionExpressionSource(value), name: value.name };
  return pulled;
}

const valueOf = (value: unknown): TaskOutcome => ({ hasValue: true, value });
/** A map's results: an array the engine built, so it may travel in packValue's number-array form. */
const ownArrayOf = (value: unknown[]): TaskOutcome => ({ hasValue: true, value, ownArray: true });
const cellOutcome = (cell: CellOutcome): TaskOutcome => ({ hasValue: cell.hasValue, value: cell.value, valueOptional: true });

/**
 * One method per task kind. Each returns its outcome synchronously when the user code finishes
 * synchronously, and a promise only when it must wait: the queue runs runs of synchronous tasks
 * back to back. Every failure is thrown and becomes an error result upstream.
 */
export class TaskHandlers {
  readonly #functions = new FunctionCache();
  /**
   * Functions of direct tasks (from clients, not through the controller): a cache of their own, so the
   * controller's model of the one above (touched in the order it sends) stays exact. A direct message
   * carries each function's source once, so this one never needs a resend.
   */
  readonly #directFunctions = new FunctionCache();
  readonly #cells = new CellExecutor();
  readonly #requirements: Requirements;

  constructor(private readonly namespace: Namespace) {
    this.#requirements = new Requirements(namespace, namespace.engineId);
  }

  /** Tasks as they arrive, before they queue: the function cache follows arrivals (see FunctionCache). */
  arrived(tasks: readonly { task: { body: TaskBody } }[], direct = false): void {
    const functions = direct ? this.#directFunctions : this.#functions;
    for (let i = 0; i < tasks.length; i++) functions.arrivedOne(tasks[i]!.task.body);
  }

  /** The number of the most recent non-silent execute. */
  get executionCount(): number {
    return this.#cells.executionCount;
  }

  run(body: TaskBody, frames: Buffer[], direct = false): TaskOutcome | Promise<TaskOutcome> {
    switch (body.kind) {
      case "execute": {
        if (typeof body.code !== "string") throw new TaskError("TypeError", "execute needs code as a string");
        const cell = this.#cells.execute(body.code, body.silent === true);
        return isThenable(cell) ? (cell as Promise<CellOutcome>).then(cellOutcome) : cellOutcome(cell);
      }
      case "apply":
      case "map": {
        // What the function requires (modules, functions) is set up first, on this engine; after an
        // import the call runs where SIGINT can stop it, as a cell does after its compiler loads.
        const ready = this.#requirements.prepare(body.require, body.fn?.name);
        const functions = direct ? this.#directFunctions : this.#functions;
        return ready ? ready.then(() => callInterruptibly(() => this.#call(body, frames, functions))) : this.#call(body, frames, functions);
      }
      case "push":
        this.#push(frames);
        return { hasValue: false };
      case "pull":
        return valueOf(this.#pull(body.names));
      case "clear":
        this.namespace.clear();
        return { hasValue: false };
      default:
        throw new TaskError("UnknownTask", `this engine does not know task kind ${JSON.stringify((body as { kind?: unknown }).kind)}`);
    }
  }

  #call(body: Extract<TaskBody, { kind: "apply" | "map" }>, frames: Buffer[], functions: FunctionCache): TaskOutcome | Promise<TaskOutcome> {
    if (body.kind === "apply") {
      const result = this.#apply(body, frames, functions);
      return isThenable(result) ? Promise.resolve(result).then(valueOf) : valueOf(result);
    }
    const ran = this.#map(body, frames, functions);
    if ("frames" in ran) return { hasValue: true, frames: ran.frames };
    const results = ran.values;
    // Promise.all keeps the order and observes every rejection, so none is left unhandled.
    return results.some(isThenable) ? Promise.all(results).then(ownArrayOf) : ownArrayOf(results);
  }

  #apply(body: Extract<TaskBody, { kind: "apply" }>, frames: Buffer[], functions: FunctionCache): unknown {
    const fn = functions.resolve(body.fn);
    const inputFrames = body.inputs?.reduce((sum, [, count]) => sum + count, 0) ?? 0;
    if (inputFrames > frames.length) throw new TaskError("ValueError", "the frames of the task's inputs are missing");
    const argFrames = inputFrames ? frames.slice(0, frames.length - inputFrames) : frames;
    const args = argFrames.length === 0 ? [] : unpackFrames<unknown[]>(argFrames, "argument");
    if (!Array.isArray(args)) throw new TaskError("TypeError", "apply arguments must be an array");
    this.#resolveRefs(args, body.refs);
    if (body.inputs) this.#placeInputs(args, body.inputs, frames.slice(argFrames.length));
    return fn(...args);
  }

  #map(body: Extract<TaskBody, { kind: "map" }>, frames: Buffer[], functions: FunctionCache): ChunkResults {
    const fn = functions.resolve(body.fn);
    // Numbers or strings in raw form: read in place from the frame (Refs need the items as an array).
    const raw = frames.length === 1 && !body.refs ? unpackArray(frames[0]!) : undefined;
    if (raw) return runPackedChunk(fn as (item: unknown) => unknown, raw);
    const items = unpackFrames<unknown[]>(frames, "item");
    if (!Array.isArray(items)) throw new TaskError("TypeError", "map items must be an array");
    this.#resolveRefs(items, body.refs);
    // One argument only: Array.prototype.map would pass (item, index, array), and fn(x, radix) style
    // functions (parseInt) would then see the chunk-local index.
    return { values: items.map((item) => fn(item)) };
  }

  /** Puts engine-side values where the client left references: an argument or item, or a place inside one. */
  #resolveRefs(values: unknown[], refs: Extract<TaskBody, { kind: "apply" }>["refs"]): void {
    // Most tasks have none: no empty array and iterator per task (a fresh engine runs this interpreted).
    if (refs === undefined) return;
    for (let i = 0; i < refs.length; i++) {
      const [index, name, path] = refs[i]!;
      if (path === undefined || path.length === 0) values[index] = this.namespace.get(name);
      else placeAt(values, [index, ...path], this.namespace.get(name));
    }
  }

  /** Other tasks' results, sent on by the controller, in the places the client left for them. */
  #placeInputs(args: unknown[], inputs: NonNullable<Extract<TaskBody, { kind: "apply" }>["inputs"]>, frames: Buffer[]): void {
    let at = 0;
    for (const [index, count, path] of inputs) {
      const value = count === 0 ? undefined : unpackValue(frames.slice(at, at + count));
      at += count;
      if (path === undefined || path.length === 0) args[index] = value;
      else placeAt(args, [index, ...path], value);
    }
  }

  #push(frames: Buffer[]): void {
    const entries = unpackFrames<Record<string, unknown>>(frames, "pushed object");
    if (entries === null || typeof entries !== "object") throw new TaskError("TypeError", "push needs an object of names");
    if (Object.hasOwn(entries, "__proto__")) throw new TaskError("NameError", "__proto__ cannot be pushed: it would replace the prototype of globalThis");
    for (const [name, value] of Object.entries(entries)) this.namespace.set(name, value);
  }

  #pull(names: string | string[]): unknown {
    if (typeof names === "string") return pullable(this.namespace.get(names));
    if (!Array.isArray(names)) throw new TaskError("TypeError", "pull needs a name or an array of names");
    return names.map((name) => pullable(this.namespace.get(String(name))));
  }
}
