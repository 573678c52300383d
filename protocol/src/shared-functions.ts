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
 * Collects the functions of one outgoing batch; `body(b)` is b as it travels. `byName`: references
 * with the same name and hash are one function, and the first one's source (if any) is the one sent
 * (a client sends a function's source once per message); otherwise each FunctionRef object is its own
 * entry (the controller decides per engine and task whether the source goes, on shared objects).
 */
export class FunctionTable {
  readonly fns: FunctionRef[] = [];
  readonly #index = new Map<FunctionRef | string, number>();

  constructor(private readonly byName = false) {}

  get size(): number {
    return this.fns.length;
  }

  /** The body with its function named by index (a new object; `body` is not changed). */
  body(body: TaskBody): WireBody {
    if (body.kind !== "apply" && body.kind !== "map") return body;
    const key = this.byName ? `${body.fn.hash}\0${body.fn.name}` : body.fn;
    let i = this.#index.get(key);
    if (i === undefined) {
      i = this.fns.length;
      this.fns.push(body.fn);
      this.#index.set(key, i);
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
