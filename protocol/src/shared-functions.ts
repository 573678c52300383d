import type { FunctionRef, TaskBody } from "./messages.js";

/**
 * A batch of tasks (`submit_request`, `task_request`) names each function once: the content's `fns`
 * holds the function references, and a task body's `fn` may be an index into it. A tiny task's JSON
 * was mostly its function's 64-character hash, written by one process and parsed by the next for
 * every task; and the receiver's tasks share one FunctionRef object, which lets it memoise per
 * function instead of per task.
 */

/** A task body as it travels: `fn` an index into the message's `fns` (or, from older senders, the reference itself). */
export type WireBody = TaskBody | (Omit<Extract<TaskBody, { kind: "apply" | "map" }>, "fn"> & { fn: number });

/**
 * Collects the functions of one outgoing batch; `body(b)` is b as it travels. References with the same
 * hash and name are one function, sent with a source if any of them has one: a receiver that already
 * holds the function only touches it on a task that brings the source again, as it does on one that
 * names the hash (see the engine's FunctionCache.arrived), so the cache models stay in step.
 */
export class FunctionTable {
  readonly fns: FunctionRef[] = [];
  /** By object first (the controller's tasks share FunctionRefs), then by hash (a client's are one per call). */
  readonly #byRef = new Map<FunctionRef, number>();
  readonly #byHash = new Map<string, number>();

  get size(): number {
    return this.fns.length;
  }

  /** The body with its function (`fn`, or its own) named by index: a new object; `body` is not changed. */
  body(body: TaskBody, as?: FunctionRef): WireBody {
    if (body.kind !== "apply" && body.kind !== "map") return body;
    const fn = as ?? body.fn;
    let i = this.#byRef.get(fn);
    if (i === undefined) {
      const same = this.#byHash.get(fn.hash);
      if (same !== undefined && this.fns[same]!.name === fn.name) {
        i = same;
        if (fn.source !== undefined && this.fns[i]!.source === undefined) this.fns[i] = fn;
      } else {
        i = this.fns.length;
        this.fns.push(fn);
        if (same === undefined) this.#byHash.set(fn.hash, i);
      }
      this.#byRef.set(fn, i);
    }
    return { ...body, fn: i };
  }
}

/**
 * Puts each body's function back (in place: the bodies are the receiver's own, just parsed). Returns
 * a problem as text for a task whose index names no function; a body without an index is left as it is.
 */
export function resolveFunctions(tasks: readonly unknown[], fns: unknown): string | undefined {
  if (fns !== undefined && !Array.isArray(fns)) return "fns must be an array";
  for (let i = 0; i < tasks.length; i++) {
    const body = (tasks[i] as { body?: { fn?: unknown } } | null)?.body;
    if (body === null || typeof body !== "object" || typeof body.fn !== "number") continue;
    const fn = fns?.[body.fn] as unknown;
    if (!Number.isInteger(body.fn) || fn === null || typeof fn !== "object" || Array.isArray(fn)) return `task ${i} names function ${body.fn}, which the message does not hold`;
    body.fn = fn;
  }
  return undefined;
}
