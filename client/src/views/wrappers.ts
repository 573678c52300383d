import type { AsyncMapResult } from "../async-map-result.js";
import type { AsyncResult } from "../async-result.js";
import type { RemoteArgs } from "../ref.js";
import type { Sequence, Sequences } from "./task-builders.js";

// `any` parameters: a constraint of `never[]` would type an unannotated default parameter as unknown.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (...args: any[]) => unknown;
/** The item type of a chunk parameter: `number` for `(chunk: number[]) => ...`. */
type ItemOf<C> = C extends readonly (infer E)[] ? E : C;
/** What calling a parallel function gives: the engines' returned arrays concatenated. */
type Flat<R> = R extends readonly (infer E)[] ? E : R;

/** `view.remote(fn)`: calling it applies fn on the view (ipyparallel's `@remote`). */
export type RemoteFunction<A extends unknown[], Out> = ((...args: RemoteArgs<A>) => Out) & { readonly fn: (...args: A) => unknown };

/**
 * `view.parallel(fn)` (ipyparallel's `@parallel`): calling it with a sequence splits the sequence into
 * chunks, calls fn on each chunk on the engines and concatenates what they return; `.map(...)` maps fn
 * over the items instead.
 */
export type ParallelFunction<F extends AnyFunction> = ((items: Sequence<ItemOf<Parameters<F>[0]>>) => AsyncResult<Flat<Awaited<ReturnType<F>>>[]>) & {
  readonly fn: F;
  map(...sequences: Sequences<Parameters<F>>): AsyncMapResult<Awaited<ReturnType<F>>>;
};

/** Gives a wrapper the wrapped function's name and keeps the function at hand as `.fn`. */
export function wrapperOf<W extends Function>(fn: Function, wrapper: W, extra: Record<string, unknown> = {}): W {
  Object.defineProperty(wrapper, "name", { value: fn.name, configurable: true });
  Object.defineProperty(wrapper, "fn", { value: fn, enumerable: true });
  for (const [key, value] of Object.entries(extra)) Object.defineProperty(wrapper, key, { value, enumerable: true });
  return wrapper;
}
