import type { SchemeName } from "@tsparallel/protocol";
import { AsyncMapResult } from "../async-map-result.js";
import { AsyncResult } from "../async-result.js";
import type { Client, TaskSpec } from "../client.js";
import type { RemoteArgs } from "../ref.js";
import { applyTask, chunked, mapTask, toArray } from "./task-builders.js";

const SCHEMES: readonly SchemeName[] = ["leastload", "lru", "random", "weighted"];

export interface LoadBalancedOptions {
  /** Engines the scheduler may use (default: all). */
  targets?: number[];
  /** How many times a task is resubmitted to another engine when its engine dies. */
  retries?: number;
  /** A task not placed on an engine within this many ms fails with TimeoutError. */
  timeout?: number;
  /** How the controller picks engines for this view's tasks (default: the controller's --scheme). */
  scheme?: SchemeName;
}

export interface MapOptions extends LoadBalancedOptions {
  /** Items per task (default 1). */
  chunkSize?: number;
  /** Iterate results in input order (default) or as they arrive. */
  ordered?: boolean;
}

/** Hands each task to whichever engine the controller's scheduler picks (ipyparallel's LoadBalancedView). */
export class LoadBalancedView {
  constructor(
    readonly client: Client,
    readonly options: LoadBalancedOptions = {},
  ) {
    if (options.scheme !== undefined && !SCHEMES.includes(options.scheme)) {
      throw new RangeError(`unknown scheme ${JSON.stringify(options.scheme)}: use one of ${SCHEMES.join(", ")}`);
    }
  }

  /** A view with some options changed. */
  with(options: LoadBalancedOptions): LoadBalancedView {
    return new LoadBalancedView(this.client, { ...this.options, ...options });
  }

  apply<A extends unknown[], R>(fn: (...args: A) => R, ...args: NoInfer<RemoteArgs<A>>): AsyncResult<Awaited<R>> {
    this.#checkEngines();
    const spec: TaskSpec = { targets: null, ...applyTask(this.client, fn, args), lb: this.#lb(this.options) };
    return this.client._submit([spec], (metadata) => new AsyncResult<Awaited<R>>(this.client, metadata, (values) => values[0] as Awaited<R>));
  }

  /** Runs TypeScript source on one engine of the scheduler's choice. */
  execute(code: string): AsyncResult<unknown> {
    this.#checkEngines();
    const spec: TaskSpec = { targets: null, body: { kind: "execute", code }, frames: [], lb: this.#lb(this.options) };
    return this.client._submit([spec], (metadata) => new AsyncResult<unknown>(this.client, metadata, (values) => values[0]));
  }

  /** Maps fn over items in tasks of `chunkSize` items; awaiting gives the results in input order. */
  map<T, R>(fn: (item: T) => R, items: Iterable<T> | ArrayLike<T>, options: MapOptions = {}): AsyncMapResult<Awaited<R>> {
    this.#checkEngines();
    const merged = { ...this.options, ...options };
    const lb = this.#lb(merged);
    const size = merged.chunkSize ?? 1;
    const specs: TaskSpec[] = chunked(toArray(items), size).map((chunk, i) => ({ targets: null, ...mapTask(this.client, fn, chunk, i * size), lb }));
    return this.client._submit(specs, (metadata) => new AsyncMapResult<Awaited<R>>(this.client, metadata, merged.ordered ?? true));
  }

  #checkEngines(): void {
    this.client._resolveTargets(this.options.targets ?? "all");
  }

  #lb(options: LoadBalancedOptions): TaskSpec["lb"] {
    return {
      ...(options.targets ? { targets: options.targets } : {}),
      ...(options.retries ? { retries: options.retries } : {}),
      ...(options.timeout ? { timeoutMs: options.timeout } : {}),
      ...(options.scheme ? { scheme: options.scheme } : {}),
    };
  }
}
