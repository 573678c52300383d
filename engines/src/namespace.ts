import { TaskError } from "./task-errors.js";

type Global = Record<string, unknown>;

/**
 * The engine namespace is the real globalThis. What it held when the engine started is remembered,
 * so `clear` can remove everything user code and pushes added, and restore builtins they overwrote.
 */
export class Namespace {
  readonly #baseline = new Map<string, PropertyDescriptor>();

  constructor(readonly engineId: () => number) {
    for (const name of Object.getOwnPropertyNames(globalThis)) {
      const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
      if (descriptor) this.#baseline.set(name, descriptor);
    }
  }

  has(name: string): boolean {
    return name in globalThis;
  }

  get(name: string): unknown {
    if (!this.has(name)) throw new TaskError("NameError", `name '${name}' is not defined on engine ${this.engineId()}`);
    return (globalThis as unknown as Global)[name];
  }

  set(name: string, value: unknown): void {
    (globalThis as unknown as Global)[name] = value;
  }

  /** Removes user names; returns how many went. */
  clear(): number {
    let removed = 0;
    for (const name of Object.getOwnPropertyNames(globalThis)) {
      const original = this.#baseline.get(name);
      const current = Object.getOwnPropertyDescriptor(globalThis, name);
      if (!current?.configurable) continue;
      if (!original) {
        delete (globalThis as unknown as Global)[name];
        removed++;
      } else if (!sameDescriptor(original, current)) {
        Object.defineProperty(globalThis, name, original);
        removed++;
      }
    }
    return removed;
  }
}

function sameDescriptor(a: PropertyDescriptor, b: PropertyDescriptor): boolean {
  return a.value === b.value && a.get === b.get && a.set === b.set;
}
