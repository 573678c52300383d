import type { AsyncResult } from "./async-result.js";
const REF = Symbol.for("tsparallel.ref");

/**
 * A name resolved on the engine when a task runs, standing for an argument of type T
 * (ipyparallel's Reference, typed).
 */
export class Ref<T = unknown> {
  declare readonly __type?: T;
  readonly [REF] = true;
  /** A symbol value makes structured clone refuse a Ref found inside data, instead of sending it as `{ name }`. */
  readonly marker = REF;
  constructor(readonly name: string) {
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new TypeError(`ref(): ${JSON.stringify(name)} is not a valid name`);
  }
}

export function ref<T = unknown>(name: string): Ref<T> {
  return new Ref<T>(name);
}

export function isRef(value: unknown): value is Ref {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[REF] === true;
}

/**
 * A value, or a Ref to an engine-side value of the same type, also in place of items of arrays and
 * properties of plain objects (resolved where they sit, as ipyparallel cans lists and dicts).
 */
export type RemoteValue<T> = T | Ref<T> | NestedRemote<T>;
type NestedRemote<T> = T extends readonly (infer E)[]
  ? RemoteValue<E>[]
  : T extends ArrayBufferView | Function | Map<unknown, unknown> | Set<unknown> | Date | RegExp
    ? never
    : T extends object
      ? { [K in keyof T]: RemoteValue<T[K]> }
      : never;

/**
 * An argument of apply: a value, a Ref, or the AsyncResult of another task giving a value of the same
 * type (the controller sends that task's value on to the engine; it never comes to the client), also in
 * place of items of arrays and properties of plain objects.
 */
export type RemoteArg<T> = T | Ref<T> | AsyncResult<T> | NestedArg<T>;
type NestedArg<T> = T extends readonly (infer E)[]
  ? RemoteArg<E>[]
  : T extends ArrayBufferView | Function | Map<unknown, unknown> | Set<unknown> | Date | RegExp
    ? never
    : T extends object
      ? { [K in keyof T]: RemoteArg<T[K]> }
      : never;

/** Each parameter may be given as a value, as a Ref to an engine-side value, or as another task's AsyncResult. */
export type RemoteArgs<A extends readonly unknown[]> = { [K in keyof A]: RemoteArg<A[K]> };
