import { packValue } from "@tsparallel/protocol";
import { AsyncMapResult, concatChunks } from "../async-map-result.js";
import { AsyncResult } from "../async-result.js";
import type { Client, TaskSpec } from "../client.js";
import type { RemoteArgs } from "../ref.js";
import { applyTask, mapTask, partition, toArray } from "./task-builders.js";

/** One value per engine, or the bare value for a view on a single engine (`rc.directView(0)`). */
export type PerEngine<T, Single extends boolean> = Single extends true ? T : T[];

/**
 * Runs work on explicit engines: every engine of the view gets every task (ipyparallel's DirectView).
 * `"all"` means the engines alive when each call is made.
 */
export class DirectView<Single extends boolean = false> {
  constructor(
    readonly client: Client,
    private readonly targetSpec: number | number[] | "all",
  ) {}

  get targets(): number[] {
    return this.client._resolveTargets(this.targetSpec);
  }

  get single(): boolean {
    return typeof this.targetSpec === "number";
  }

  /** Runs TypeScript source in each engine's persistent namespace; gives each last expression's value. */
  execute(code: string, { silent = false }: { silent?: boolean } = {}): AsyncResult<PerEngine<unknown, Single>> {
    return this.#each({ targets: this.targets, body: { kind: "execute", code, ...(silent ? { silent } : {}) }, frames: [] });
  }

  /** Calls fn(...args) on each engine. Free names in fn resolve in the engine namespace. */
  apply<A extends unknown[], R>(fn: (...args: A) => R, ...args: NoInfer<RemoteArgs<A>>): AsyncResult<PerEngine<Awaited<R>, Single>> {
    const { body, frames } = applyTask(this.client, fn, args);
    return this.#each({ targets: this.targets, body, frames });
  }

  /** Maps fn over items, split into one contiguous chunk per engine; results come back in order. */
  map<T, R>(fn: (item: T) => R, items: Iterable<T> | ArrayLike<T>): AsyncMapResult<Awaited<R>> {
    const targets = this.targets;
    const chunks = partition(toArray(items), targets.length);
    let first = 0;
    const specs: TaskSpec[] = chunks.map((chunk, i) => {
      const spec = { targets: [targets[i]!], ...mapTask(this.client, fn, chunk, first) };
      first += chunk.length;
      return spec;
    });
    return this.client._submit(specs, (metadata) => new AsyncMapResult<Awaited<R>>(this.client, metadata, true));
  }

  /** Sets names in each engine's namespace. */
  push(namespace: Record<string, unknown>): AsyncResult<PerEngine<void, Single>> {
    return this.#each({ targets: this.targets, body: { kind: "push" }, frames: packValue(namespace, "a pushed value").frames });
  }

  /** Reads a name (or several) from each engine's namespace. */
  pull<T = unknown>(name: string): AsyncResult<PerEngine<T, Single>>;
  pull(names: string[]): AsyncResult<PerEngine<unknown[], Single>>;
  pull(names: string | string[]): AsyncResult<unknown> {
    return this.#each({ targets: this.targets, body: { kind: "pull", names }, frames: [] });
  }

  /** Splits items across the engines: engine i gets the i-th contiguous chunk as `name`. */
  scatter(name: string, items: Iterable<unknown> | ArrayLike<unknown>): AsyncResult<void[]> {
    const targets = this.targets;
    const chunks = partition(toArray(items), targets.length);
    const specs: TaskSpec[] = chunks.map((chunk, i) => ({ targets: [targets[i]!], body: { kind: "push" }, frames: packValue({ [name]: chunk }, "a scattered item").frames }));
    return this.client._submit(specs, (metadata) => new AsyncResult<void[]>(this.client, metadata, () => []));
  }

  /** Concatenates `name` (an array on each engine) in engine order: the inverse of scatter. */
  gather<T = unknown>(name: string): AsyncResult<T[]> {
    const targets = this.targets;
    const specs: TaskSpec[] = targets.map((id) => ({ targets: [id], body: { kind: "pull", names: name }, frames: [] }));
    return this.client._submit(specs, (metadata) => new AsyncResult<T[]>(this.client, metadata, (values) => concatChunks(values as T[][])));
  }

  /** Removes every name user code defined on the engines. */
  clear(): AsyncResult<PerEngine<void, Single>> {
    return this.#each({ targets: this.targets, body: { kind: "clear" }, frames: [] });
  }

  #each<T>(spec: TaskSpec): AsyncResult<T> {
    const single = this.single;
    return this.client._submit([spec], (metadata) => new AsyncResult<T>(this.client, metadata, (values) => (single ? values[0] : values) as T));
  }
}
