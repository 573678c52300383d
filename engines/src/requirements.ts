import vm from "node:vm";
import type { TaskRequirements } from "@tsparallel/protocol";
import { importFromCwd } from "./module-import.js";
import type { Namespace } from "./namespace.js";
import { TaskError } from "./task-errors.js";

/** Modules imported and functions compiled for requirements, kept so repeated tasks set up synchronously. */
const MAX_KEPT = 256;

function keep<V>(map: Map<string, V>, key: string, value: V): V {
  if (map.size >= MAX_KEPT) map.delete(map.keys().next().value!);
  map.set(key, value);
  return value;
}

/**
 * Sets up what a task requires (ipyparallel's `@require`) in the engine namespace before its function
 * runs: imports modules (from the engine's working directory, as execute's imports) and defines
 * functions from source, compiled here so their free names resolve in this namespace.
 */
export class Requirements {
  readonly #modules = new Map<string, unknown>();
  readonly #functions = new Map<string, Function>();

  constructor(
    private readonly namespace: Namespace,
    private readonly engineId: () => number,
  ) {}

  /** Done synchronously when every module was imported before; a promise only while one loads. */
  prepare(required: TaskRequirements | undefined, fnName: string): void | Promise<void> {
    if (!required) return;
    const modules = required.modules ?? [];
    const missing = modules.filter(([, specifier]) => !this.#modules.has(specifier));
    if (missing.length === 0) return this.#bind(required);
    return Promise.all(missing.map(([, specifier]) => this.#import(specifier, fnName))).then(() => this.#bind(required));
  }

  async #import(specifier: string, fnName: string): Promise<void> {
    if (typeof specifier !== "string") throw new TaskError("TypeError", "a required module is named by a string");
    try {
      keep(this.#modules, specifier, await importFromCwd(specifier));
    } catch (err) {
      throw new TaskError("UnmetDependency", `engine ${this.engineId()} cannot import '${specifier}', which ${fnName || "the function"} requires: ${(err as Error).message}`);
    }
  }

  #bind(required: TaskRequirements): void {
    for (const [name, specifier, useDefault] of required.modules ?? []) {
      const module = this.#modules.get(specifier) as Record<string, unknown> | undefined;
      if (!module) throw new TaskError("UnmetDependency", `'${specifier}' was not imported on engine ${this.engineId()}`);
      this.namespace.set(checkedName(name), useDefault ? module.default : module);
    }
    for (const [name, source] of required.functions ?? []) {
      if (typeof source !== "string") throw new TaskError("TypeError", `the required function ${name} came without its source`);
      this.namespace.set(checkedName(name), this.#functions.get(source) ?? keep(this.#functions, source, compile(name, source)));
    }
  }
}

function checkedName(name: unknown): string {
  if (typeof name !== "string" || !/^[A-Za-z_$][\w$]*$/.test(name)) throw new TaskError("NameError", `${JSON.stringify(name)} is not a name a requirement can define`);
  return name;
}

function compile(name: string, source: string): Function {
  // Strict and in this context, as the task's own function (function-cache.ts).
  const fn = vm.compileFunction(`"use strict"; return (${source}\n);`, [], { filename: `<function ${name}>` })() as unknown;
  if (typeof fn !== "function") throw new TaskError("TypeError", `the source of the required function ${name} is not a function`);
  return fn;
}
