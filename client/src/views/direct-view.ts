import { readFileSync } from "node:fs";
import { inspect, type InspectOptions } from "node:util";
import { AsyncMapResult, concatChunks } from "../async-map-result.js";
import { AsyncResult, type TaskOwner } from "../async-result.js";
import type { TaskTable } from "../task-table.js";
import type { Client, TaskSpec } from "../client.js";
import type { RemoteArgs, RemoteValue } from "../ref.js";
import { wrapperOf, type AnyFunction, type ParallelFunction, type RemoteFunction } from "./wrappers.js";
import { definerOf, reviveFunctions, splitFunctions } from "./engine-functions.js";
import { nameForModule, taskRequirements, type Requirement } from "./requirements.js";
import { applyTask, isNumberView, mapArguments, mapItems, mapTaskRange, packOwned, partition, partitionBounds, toArray, type MapItem, type Sequence, type Sequences } from "./task-builders.js";

/** One value per engine, or the bare value for a view on a single engine (`rc.directView(0)`). */
export type PerEngine<T, Single extends boolean> = Single extends true ? T : T[];

export interface DirectViewOptions {
  /**
   * Copy large typed arrays and ArrayBuffers when a call is made (default true), so changing them
   * right after the call does not change what is sent. `false` sends them from your memory without a
   * copy (faster for very large data): then leave them unchanged until the call's result is in.
   */
  copy?: boolean;
  /** A label for every task of this view (ipyparallel 9.1): in each task's metadata and record, and `rc.controllerHistory({ label })`. */
  label?: string;
  /**
   * Send each do-on-all call (execute, apply, push, pull, clear, import) as one broadcast task whose
   * results come back together (default: true for a view on "all" engines, for the engines it reaches
   * through the controller; those reached directly answer each on their own). `true` given here keeps
   * the controller's fan-out and gather for every engine. See `rc.broadcastView()`.
   */
  broadcast?: boolean;
  /** What apply and map need on each engine before their function runs (ipyparallel's `@require`): see `view.require()`. */
  require?: readonly Requirement[];
}

export interface DirectMapOptions {
  /** Give each failed item's error in its place (awaiting and iterating) instead of throwing. */
  returnExceptions?: boolean;
}

/** How a call's values come back: a view on one engine gives its value, others the list (one function each, not a closure per call). */
const firstValue = (values: unknown[]): unknown => values[0];
const allValues = (values: unknown[]): unknown => values;

/**
 * Runs work on explicit engines: every engine of the view gets every task (ipyparallel's DirectView).
 * `"all"` means the engines alive when each call is made.
 */
export class DirectView<Single extends boolean = false> {
  constructor(
    readonly client: Client,
    private readonly targetSpec: number | number[] | "all",
    readonly options: DirectViewOptions = {},
  ) {}

  get targets(): number[] {
    return this.client._resolveTargets(this.targetSpec);
  }

  get #copy(): boolean {
    return this.options.copy ?? true;
  }

  get #broadcast(): boolean {
    return this.options.broadcast ?? this.targetSpec === "all";
  }

  get single(): boolean {
    return typeof this.targetSpec === "number";
  }

  /**
   * A view whose apply and map first set up these on each engine that runs them (ipyparallel's
   * `@require`): module specifiers (bound as `dv.import` binds them), named functions, or an object
   * of names to specifiers or functions. A module an engine cannot import fails the task with
   * `UnmetDependency`.
   */
  require(...requirements: Requirement[]): DirectView<Single> {
    const all = [...(this.options.require ?? []), ...requirements];
    taskRequirements(all);
    // The same kind of view (a BroadcastView stays one).
    const View = this.constructor as new (client: Client, targets: number | number[] | "all", options: DirectViewOptions) => DirectView<Single>;
    return new View(this.client, this.targetSpec, { ...this.options, require: all });
  }

  get #required() {
    return taskRequirements(this.options.require);
  }

  /** Runs TypeScript source in each engine's persistent namespace; gives each last expression's value. */
  execute(code: string, { silent = false }: { silent?: boolean } = {}): AsyncResult<PerEngine<unknown, Single>> {
    return this.#each({ targets: this.targets, body: silent ? { kind: "execute", code, silent } : { kind: "execute", code }, frames: [] });
  }

  /**
   * Runs a TypeScript (or JavaScript) file on each engine, like `execute` of its text (ipyparallel's
   * `view.run`). The file is read here, when the call is made; imports in it resolve from each engine's
   * working directory.
   */
  run(file: string, { silent = false }: { silent?: boolean } = {}): AsyncResult<PerEngine<unknown, Single>> {
    let code: string;
    try {
      code = readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`cannot run ${file}: ${(err as Error).message}`);
    }
    return this.execute(`${code}\n`, { silent });
  }

  /**
   * Imports a module into each engine's namespace (ipyparallel's `sync_imports`): as a namespace object
   * named `as` (default: from the specifier, `node:path` -> `path`, `@scope/some-lib` -> `someLib`), or
   * its default export with `default: true`. Bare names resolve from each engine's working directory.
   */
  import(specifier: string, { as, default: useDefault = false }: { as?: string; default?: boolean } = {}): AsyncResult<PerEngine<void, Single>> {
    const name = as ?? nameForModule(specifier);
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new TypeError(`import(): ${JSON.stringify(name)} is not a valid name: pass { as: "someName" }`);
    const binding = useDefault ? name : `* as ${name}`;
    const single = this.single;
    const targets = this.targets;
    const spec: TaskSpec = { targets, body: { kind: "execute", code: `import ${binding} from ${JSON.stringify(specifier)};`, silent: true }, frames: [], broadcast: this.#broadcast };
    return this.#submit([spec], (metadata, owner) => new AsyncResult<PerEngine<void, Single>>(owner, metadata, () => (single ? undefined : targets.map(() => undefined)) as PerEngine<void, Single>));
  }

  /** Calls fn(...args) on each engine. Free names in fn resolve in the engine namespace. */
  apply<A extends unknown[], R>(fn: (...args: A) => R, ...args: NoInfer<RemoteArgs<A>>): AsyncResult<PerEngine<Awaited<R>, Single>> {
    const { body, frames } = applyTask(this.client, fn, args, this.#copy, this.#required);
    return this.#each({ targets: this.targets, body, frames });
  }

  /**
   * Maps fn over items, split into one contiguous chunk per engine; results come back in order. Over
   * several sequences, fn gets one item of each and the map stops at the shortest; options come last.
   */
  map<T, R, O extends DirectMapOptions = {}>(fn: (item: T) => R, items: Sequence<RemoteValue<T>>, options?: O): AsyncMapResult<MapItem<Awaited<R>, O>>;
  map<A extends unknown[], R, O extends DirectMapOptions = {}>(fn: (...args: A) => R, ...sequences: [...Sequences<A>, O] | Sequences<A>): AsyncMapResult<MapItem<Awaited<R>, O>>;
  map(fn: Function, ...args: unknown[]): AsyncMapResult<unknown> {
    const targets = this.targets;
    const { sequences, options } = mapArguments<DirectMapOptions>(args);
    const only = sequences.length === 1 ? sequences[0] : undefined;
    const mapped = isNumberView(only) ? { fn, items: only } : mapItems(fn, sequences);
    const bounds = partitionBounds(mapped.items.length, targets.length);
    const required = this.#required;
    const specs: TaskSpec[] = targets.map((target, i) => ({ targets: [target], ...mapTaskRange(this.client, mapped.fn, mapped.items, bounds[i]!, bounds[i + 1]!, this.#copy, required) }));
    const resultOptions = { returnExceptions: options.returnExceptions ?? false, layout: { chunkSizes: targets.map((_, i) => bounds[i + 1]! - bounds[i]!) } };
    return this.#submit(specs, (metadata, owner) => new AsyncMapResult<unknown>(owner, metadata, true, resultOptions));
  }

  /** `rc.directView().remote(fn)(...args)` is `apply(fn, ...args)`, with fn's name (ipyparallel's `@remote`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- `unknown[]` would type an unannotated default parameter as unknown
  remote<A extends any[], R>(fn: (...args: A) => R): RemoteFunction<A, AsyncResult<PerEngine<Awaited<R>, Single>>> {
    return wrapperOf(fn, (...args: RemoteArgs<A>) => this.apply(fn, ...(args as NoInfer<RemoteArgs<A>>))) as RemoteFunction<A, ReturnType<typeof this.apply<A, R>>>;
  }

  /**
   * ipyparallel's `@parallel`: calling the wrapper with a sequence gives each engine one contiguous
   * chunk, calls fn(chunk) there and concatenates the returned arrays in engine order; `.map(...)` is
   * `view.map(fn, ...)`.
   */
  parallel<F extends AnyFunction>(fn: F): ParallelFunction<F> {
    const call = (items: Sequence<unknown>) => {
      const targets = this.targets;
      const chunks = partition(toArray(items), targets.length);
      const required = this.#required;
      const specs: TaskSpec[] = chunks.map((chunk, i) => ({ targets: [targets[i]!], ...applyTask(this.client, fn, [chunk], this.#copy, required) }));
      return this.#submit(specs, (metadata, owner) => new AsyncResult<unknown[]>(owner, metadata, (values) => concatChunks(values as unknown[][])));
    };
    const map = (...sequences: Sequence<unknown>[]) => (this.map as (fn: Function, ...rest: unknown[]) => AsyncMapResult<unknown>)(fn, ...sequences);
    return wrapperOf(fn, call, { map }) as unknown as ParallelFunction<F>;
  }

  /**
   * Sets names in each engine's namespace. A function value is defined there from its source, and its
   * free names resolve in the engine namespace (as the function of `apply` does).
   */
  push(namespace: Record<string, unknown>): AsyncResult<PerEngine<void, Single>> {
    const targets = this.targets;
    const { functions, data } = splitFunctions(namespace);
    if (functions.length === 0) return this.#each({ targets, body: { kind: "push" }, frames: packOwned(namespace, "a pushed value", this.#copy) });
    const broadcast = this.#broadcast;
    const specs: TaskSpec[] = [{ targets, ...applyTask(this.client, definerOf(functions), []), broadcast }];
    if (Object.keys(data).length > 0) specs.unshift({ targets, body: { kind: "push" }, frames: packOwned(data, "a pushed value", this.#copy), broadcast });
    const single = this.single;
    const done = (single ? undefined : targets.map(() => undefined)) as PerEngine<void, Single>;
    return this.#submit(specs, (metadata, owner) => new AsyncResult<PerEngine<void, Single>>(owner, metadata, () => done));
  }

  /** Reads a name (or several) from each engine's namespace; a function comes back as a function. */
  pull<T = unknown>(name: string): AsyncResult<PerEngine<T, Single>>;
  pull(names: string[]): AsyncResult<PerEngine<unknown[], Single>>;
  pull(names: string | string[]): AsyncResult<unknown> {
    const single = this.single;
    const revive = (value: unknown) => (Array.isArray(names) ? (value as unknown[]).map(reviveFunctions) : reviveFunctions(value));
    return this.#submit([{ targets: this.targets, body: { kind: "pull", names }, frames: [], broadcast: this.#broadcast }], (metadata, owner) =>
      new AsyncResult<unknown>(owner, metadata, (values) => (single ? revive(values[0]) : values.map(revive))),
    );
  }

  /**
   * Splits items across the engines: engine i gets the i-th contiguous chunk as `name`. With
   * `flatten: true` a chunk of one item is set as that item itself (ipyparallel's `flatten`), e.g. to
   * give each engine its rank: `scatter("rank", rc.ids, { flatten: true })`.
   */
  scatter(name: string, items: Iterable<unknown> | ArrayLike<unknown>, { flatten = false }: { flatten?: boolean } = {}): AsyncResult<void[]> {
    const targets = this.targets;
    const chunks = partition(toArray(items), targets.length);
    const value = (chunk: unknown[]) => (flatten && chunk.length === 1 ? chunk[0] : chunk);
    const specs: TaskSpec[] = chunks.map((chunk, i) => ({ targets: [targets[i]!], body: { kind: "push" }, frames: packOwned({ [name]: value(chunk) }, "a scattered item", this.#copy) }));
    return this.#submit(specs, (metadata, owner) => new AsyncResult<void[]>(owner, metadata, () => []));
  }

  /**
   * Concatenates `name` (an array on each engine) in engine order: the inverse of scatter. Awaiting
   * gives the flat list; `for await` yields its items, as ipyparallel's gather (an AsyncMapResult).
   */
  gather<T = unknown>(name: string): AsyncMapResult<T> {
    const targets = this.targets;
    const specs: TaskSpec[] = targets.map((id) => ({ targets: [id], body: { kind: "pull", names: name }, frames: [] }));
    return this.#submit(specs, (metadata, owner) => new AsyncMapResult<T>(owner, metadata, true));
  }

  /** Removes every name user code defined on the engines. */
  clear(): AsyncResult<PerEngine<void, Single>> {
    return this.#each({ targets: this.targets, body: { kind: "clear" }, frames: [] });
  }

  [inspect.custom](_depth: number, options: InspectOptions, show: typeof inspect): string {
    const targets = this.targetSpec === "all" ? `all (now ${this.client.ids.join(", ") || "none"})` : this.targetSpec;
    return `${this.constructor.name} ${show({ targets, profile: this.client.profile, controller: this.client.controllerState }, options)}`;
  }

  #submit<R extends AsyncResult<unknown>>(specs: TaskSpec[], make: (tasks: TaskTable, owner: TaskOwner) => R): R {
    // A BroadcastView (broadcast asked for) keeps the controller's fan-out and gather; other DirectViews go straight to engines they reach.
    return this.client._submit(specs, make, this.options.label, { gather: this.options.broadcast === true });
  }

  #each<T>(spec: TaskSpec): AsyncResult<T> {
    const single = this.single;
    // The spec is the caller's own literal (execute, apply, push, ...): set in place, no copy per call.
    spec.broadcast = this.#broadcast;
    return this.#submit([spec], (metadata, owner) => new AsyncResult<T>(owner, metadata, (single ? firstValue : allValues) as (values: unknown[]) => T));
  }
}

/**
 * ipyparallel's BroadcastView: a DirectView whose do-on-all calls (execute, apply, push, pull, clear,
 * import) reach the controller as ONE task for all its targets, which the controller fans out to the
 * engines and whose results it gathers and sends back together. Results stay per engine and in target
 * order (`ar.engineIds`), errors per engine (CompositeError). `map`, `scatter` and `gather` send one
 * task per engine, as a DirectView does.
 */
export class BroadcastView extends DirectView<false> {
  constructor(client: Client, targets: number[] | "all", options: Omit<DirectViewOptions, "broadcast"> = {}) {
    super(client, targets, { ...options, broadcast: true });
  }
}
