import { FunctionSerializationError, functionExpressionSource, type TaskRequirements } from "@tsparallel/protocol";

/**
 * What a task needs on the engine that runs it (ipyparallel's `@require`), set up there before its
 * function runs: a module specifier (bound under the name `dv.import` gives it: `node:zlib` -> `zlib`),
 * a named function (defined under its name), or an object of names to module specifiers or functions.
 */
export type Requirement = string | Function | Readonly<Record<string, string | Function>>;

const NAME = /^[A-Za-z_$][\w$]*$/;

/** The name an import binds by default: the last segment of the specifier, in camelCase. */
export function nameForModule(specifier: string): string {
  const last = specifier.replace(/^node:/, "").replace(/\.[cm]?[jt]s$/, "").split("/").filter(Boolean).at(-1) ?? "";
  return last.replace(/[^\w$]+(.)?/g, (_, next: string | undefined) => (next ?? "").toUpperCase());
}

function checkedName(name: string, what: string): string {
  if (!NAME.test(name)) throw new TypeError(`require(): ${JSON.stringify(name)} is not a valid name for ${what}: use the object form { someName: ... }`);
  return name;
}

/** The wire form of a view's requirements (undefined for none). Throws at the call for one that cannot be met this way. */
export function taskRequirements(list: readonly Requirement[] | undefined): TaskRequirements | undefined {
  if (!list || list.length === 0) return undefined;
  const modules: [string, string, boolean][] = [];
  const functions: [string, string][] = [];
  const add = (name: string, value: unknown) => {
    if (typeof value === "string") modules.push([checkedName(name, `module ${value}`), value, false]);
    else if (typeof value === "function") {
      try {
        functions.push([checkedName(name, "a function"), functionExpressionSource(value)]);
      } catch (err) {
        throw new FunctionSerializationError(`require(): the function ${name} cannot be sent: ${(err as Error).message}`);
      }
    } else throw new TypeError(`require(): ${name} is ${value === null ? "null" : typeof value}, not a module specifier or a function (send data with push, or as an argument)`);
  };
  for (const item of list) {
    if (typeof item === "string") add(nameForModule(item), item);
    else if (typeof item === "function") add(item.name, item);
    else if (typeof item === "object" && item !== null) for (const [name, value] of Object.entries(item)) add(name, value);
    else throw new TypeError(`require(): ${String(item)} is not a module specifier, a function or an object of them`);
  }
  return { ...(modules.length ? { modules } : {}), ...(functions.length ? { functions } : {}) };
}
