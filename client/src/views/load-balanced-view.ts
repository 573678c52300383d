import { inspect, type InspectOptions } from "node:util";
import { describeFunction, type SchemeName } from "@tsparallel/protocol";
import { AsyncMapResult, concatChunks } from "../async-map-result.js";
import { AsyncResult, type TaskOwner } from "../async-result.js";
import type { TaskTable } from "../task-table.js";
import type { Client, TaskSpec } from "../client.js";
import type { RemoteArgs, RemoteValue } from "../ref.js";
import { submitAfter, type DependencyLike } from "./dependencies.js";
import { wrapperOf, type AnyFunction, type ParallelFunction, type RemoteFunction } from "./wrappers.js";
import { MapTasks } from "./map-tasks.js";
import { taskRequirements, type Requirement } from "./requirements.js";
import { applyTask, chunked, mapArguments, mapItems, mapTask, packChunk, toArray, type MapItem, type Sequence, type Sequences } from "./task-builders.js";

const SCHEMES: readonly SchemeName[] = ["leastload", "lru", "random", "weighted"];

export interface LoadBalancedOptions {
  /** Engines the scheduler may use (default: all). */
  targets?: number[];
  /** How many times a task is resubmitted to another engine when its engine dies (and, with `retryOnError`, when it throws). */
  retries?: number;
  /** Retry a task that throws too, as ipyparallel does, on an engine that has not failed it (default: only engine death). */
  retryOnError?: boolean;
  /** A task not placed on an engine within this many ms fails with TimeoutError. */
  timeout?: number;
  /** How the controller picks engines for this view's tasks (default: the controller's --scheme). */
  scheme?: SchemeName;
  /** As DirectViewOptions.copy: copy large typed arrays at the call (default true) or send them from your memory. */
  copy?: boolean;
  /**
   * Run only once these tasks finished (ipyparallel's `after`): results, msg ids, or a Dependency
   * (all/any, success/failure). Held back in the client until then; `timeout` bounds the wait.
   */
  after?: DependencyLike;
  /** Run where these tasks ran (ipyparallel's `follow`), once they finished; a Dependency as for `after`. */
  follow?: DependencyLike;
  /** A label for every task of this view (ipyparallel 9.1): in each task's metadata and record, and `rc.controllerHistory({ label })`. */
  label?: string;
  /** What apply and map need on the engine that runs them (ipyparallel's `@require`): see `view.require()`. */
  require?: readonly Requirement[];
}

export interface MapOptions extends LoadBalancedOptions {
  /** Items per task (default 1). */
  chunkSize?: number;
  /** Iterate results in input order (default) or as they arrive. */
  ordered?: boolean;
  /** Give each failed item's error in its place (awaiting and iterating) instead of throwing. */
  returnExceptions?: boolean;
}

export interface ImapOptions extends LoadBalancedOptions {
  /** At most this many tasks in flight; the source is read only as results come back (default: 2 per engine). */
  maxOutstanding?: number;
  /** Yield in input order (default) or as results arrive. */
  ordered?: boolean;
  /** Yield each failed item's error instead of throwing it. */
  returnExceptions?: boolean;
}

/** One task's value is the call's value. */
const firstValue = (values: unknown[]): unknown => values[0];
/** The result of one apply or execute: module-level, so a call makes no closures for it. */
const makeOne = (tasks: TaskTable, owner: TaskOwner): AsyncResult<unknown> => new AsyncResult<unknown>(owner, tasks, firstValue);

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

  /**
   * A view whose apply and map first set up these on the engine that runs each task (ipyparallel's
   * `@require`): module specifiers (bound as `dv.import` binds them: `node:zlib` -> `zlib`), named
   * functions, or an object of names to specifiers or functions. A module the engine cannot import
   * fails the task with `UnmetDependency` (with `retryOnError`, it tries another engine).
   */
  require(...requirements: Requirement[]): LoadBalancedView {
    const all = [...(this.options.require ?? []), ...requirements];
    taskRequirements(all);
    return this.with({ require: all });
  }

  apply<A extends unknown[], R>(fn: (...args: A) => R, ...args: NoInfer<RemoteArgs<A>>): AsyncResult<Awaited<R>> {
    this.#checkEngines();
    const { body, frames } = applyTask(this.client, fn, args, this.options.copy ?? true, taskRequirements(this.options.require));
    const spec: TaskSpec = { targets: null, body, frames, lb: this.#lb(this.options) };
    return this.#submit([spec], makeOne as (tasks: TaskTable, owner: TaskOwner) => AsyncResult<Awaited<R>>);
  }

  /** `lv.remote(fn)(...args)` is `lv.apply(fn, ...args)`, with fn's name (ipyparallel's `@remote`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- `unknown[]` would type an unannotated default parameter as unknown
  remote<A extends any[], R>(fn: (...args: A) => R): RemoteFunction<A, AsyncResult<Awaited<R>>> {
    return wrapperOf(fn, (...args: RemoteArgs<A>) => this.apply(fn, ...(args as NoInfer<RemoteArgs<A>>))) as RemoteFunction<A, ReturnType<typeof this.apply<A, R>>>;
  }

  /**
   * ipyparallel's `@parallel`: calling the wrapper with a sequence splits it into one chunk per engine
   * (or `chunkSize` items), runs fn(chunk) on whichever engines are free and concatenates the returned
   * arrays in input order; `.map(...)` is `lv.map(fn, ...)`.
   */
  parallel<F extends AnyFunction>(fn: F, { chunkSize }: { chunkSize?: number } = {}): ParallelFunction<F> {
    const call = (items: Sequence<unknown>) => {
      const engines = this.client._resolveTargets(this.options.targets ?? "all").length;
      const all = toArray(items);
      const chunks = chunked(all, chunkSize ?? Math.max(1, Math.ceil(all.length / engines)));
      const lb = this.#lb(this.options);
      const required = taskRequirements(this.options.require);
      const specs: TaskSpec[] = chunks.map((chunk) => ({ targets: null, ...applyTask(this.client, fn, [chunk], this.options.copy ?? true, required), lb }));
      return this.#submit(specs, (metadata, owner) => new AsyncResult<unknown[]>(owner, metadata, (values) => concatChunks(values as unknown[][])));
    };
    const map = (...sequences: Sequence<unknown>[]) => (this.map as (fn: Function, ...rest: unknown[]) => AsyncMapResult<unknown>)(fn, ...sequences);
    return wrapperOf(fn, call, { map }) as unknown as ParallelFunction<F>;
  }

  /** Runs TypeScript source on one engine of the scheduler's choice. */
  execute(code: string): AsyncResult<unknown> {
    this.#checkEngines();
    const spec: TaskSpec = { targets: null, body: { kind: "execute", code }, frames: [], lb: this.#lb(this.options) };
    return this.#submit([spec], makeOne);
  }

  /**
   * Maps fn over items in tasks of `chunkSize` items; awaiting gives the results in input order. Over
   * several sequences, fn gets one item of each and the map stops at the shortest (as Python 3's map);
   * options come last.
   */
  map<T, R, O extends MapOptions = {}>(fn: (item: T) => R, items: Sequence<RemoteValue<T>>, options?: O): AsyncMapResult<MapItem<Awaited<R>, O>>;
  map<A extends unknown[], R, O extends MapOptions = {}>(fn: (...args: A) => R, ...sequences: [...Sequences<A>, O] | Sequences<A>): AsyncMapResult<MapItem<Awaited<R>, O>>;
  map(fn: Function, ...args: unknown[]): AsyncMapResult<unknown> {
    this.#checkEngines();
    const { sequences, options } = mapArguments<MapOptions>(args);
    const merged = { ...this.options, ...options };
    const lb = this.#lb(merged);
    const mapped = mapItems(fn, sequences);
    const size = merged.chunkSize ?? 1;
    const items = mapped.items;
    const resultOptions = { returnExceptions: merged.returnExceptions ?? false, layout: { items: items.length, chunkSize: size } };
    const make = (tasks: TaskTable, owner: TaskOwner) => new AsyncMapResult<unknown>(owner, tasks, merged.ordered ?? true, resultOptions);
    const required = taskRequirements(merged.require);
    // Maps with dependencies or requirements build each task up front (the lazy path below sends bare chunks).
    if (merged.after !== undefined || merged.follow !== undefined || required) {
      const specs: TaskSpec[] = chunked(items, size).map((chunk, i) => ({ targets: null, ...mapTask(this.client, mapped.fn, chunk, merged.copy ?? true, i * size, required), lb }));
      return this.#submit(specs, make, merged);
    }
    // Packed now, sent as the in-flight window allows: no request or frame object per task meanwhile.
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunkSize must be a positive integer, got ${size}`);
    const count = Math.ceil(items.length / size);
    const copy = merged.copy ?? true;
    const tasks = new MapTasks(count, size, { lb, ...(merged.label !== undefined ? { label: merged.label } : {}) });
    // A plain array's small chunks of numbers, booleans, null and undefined (a chunkSize-1 map of numbers) pack in place.
    const plain = Object.getPrototypeOf(items) === Array.prototype;
    for (let j = 0; j < count; j++) {
      const start = j * size;
      const end = Math.min(start + size, items.length);
      if (!plain || !tasks.addPrimitives(j, items, start, end)) tasks.add(j, packChunk(items.slice(start, end), copy));
    }
    // Only once every item packed: a map that throws here has sent nothing, its function's source included.
    tasks.setFunction(this.client._functionRef(describeFunction(mapped.fn)));
    return this.client._submitLazy(count, "map", tasks, make, merged.label);
  }

  /**
   * Maps fn lazily over any iterable or async iterable, endless ones included: one task per item, at
   * most `maxOutstanding` in flight, the source read only as results come back (ipyparallel's imap).
   * Leaving the loop early stops reading the source; tasks already sent still run.
   */
  imap<T, R, O extends ImapOptions = {}>(fn: (item: T) => R, source: Iterable<T> | AsyncIterable<T>, options?: O): AsyncGenerator<MapItem<Awaited<R>, O>, void, undefined>;
  async *imap(fn: (item: unknown) => unknown, source: Iterable<unknown> | AsyncIterable<unknown>, options: ImapOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const merged = { ...this.options, ...options };
    const engines = this.client._resolveTargets(merged.targets ?? "all").length;
    const max = merged.maxOutstanding ?? 2 * engines;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxOutstanding must be a positive integer, got ${max}`);
    const view = this.with(merged);
    const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
    const pending: AsyncResult<unknown>[] = [];
    let exhausted = false;
    try {
      for (;;) {
        while (!exhausted && pending.length < max) {
          const next = await iterator.next();
          if (next.done) exhausted = true;
          else pending.push(view.apply(fn, next.value));
        }
        if (pending.length === 0) return;
        const index = merged.ordered === false ? await Promise.race(pending.map((ar, i) => ar.wait().then(() => i))) : 0;
        const [ar] = pending.splice(index, 1);
        try {
          yield await ar!;
        } catch (err) {
          if (!merged.returnExceptions || !ar!.ready()) throw err;
          yield err;
        }
      }
    } finally {
      if (!exhausted) await iterator.return?.();
    }
  }

  [inspect.custom](_depth: number, options: InspectOptions, show: typeof inspect): string {
    const state = { ...this.options, targets: this.options.targets ?? `all (now ${this.client.ids.join(", ") || "none"})`, profile: this.client.profile, controller: this.client.controllerState };
    return `LoadBalancedView ${show(state, options)}`;
  }

  #submit<R extends AsyncResult<unknown>>(specs: TaskSpec[], make: (tasks: TaskTable, owner: TaskOwner) => R, options: LoadBalancedOptions = this.options): R {
    const { after, follow, timeout, targets, label } = options;
    if (after === undefined && follow === undefined) return this.client._submit(specs, make, label);
    return submitAfter(this.client, specs, make, { after, follow, timeoutMs: timeout, targets, label });
  }

  #checkEngines(): void {
    // Every apply checks: "all" needs only one live engine, not the sorted list of them.
    if (this.options.targets === undefined) this.client._checkAnyEngine();
    else this.client._resolveTargets(this.options.targets);
  }

  /** This view's own options as they travel, made once (every apply sends them). */
  #ownLb: TaskSpec["lb"] | undefined;
  #ownLbMade = false;

  #lb(options: LoadBalancedOptions): TaskSpec["lb"] {
    if (options === this.options) {
      if (!this.#ownLbMade) {
        this.#ownLb = this.#lbOf(options);
        this.#ownLbMade = true;
      }
      return this.#ownLb;
    }
    return this.#lbOf(options);
  }

  /** Undefined without any option: no `"lb":{}` to write, parse and store for every task. */
  #lbOf(options: LoadBalancedOptions): TaskSpec["lb"] {
    if (!options.targets && !options.retries && !options.timeout && !options.scheme && !options.retryOnError) return undefined;
    return {
      ...(options.targets ? { targets: options.targets } : {}),
      ...(options.retries ? { retries: options.retries } : {}),
      ...(options.timeout ? { timeoutMs: options.timeout } : {}),
      ...(options.scheme ? { scheme: options.scheme } : {}),
      ...(options.retryOnError ? { retryOnError: true } : {}),
    };
  }
}
