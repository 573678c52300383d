import { DevalueError, uneval } from "devalue";
import { FunctionSerializationError, functionExpressionSource } from "@tsparallel/protocol";
import { RUNTIME_PARAMETER, SCOPE_PARAMETER } from "../typescript/cell-transform.js";
import type { ImportBinding } from "../typescript/import-binding.js";
import { defaultExport, namedExport, namespaceExport, requireExport } from "./module-interop.js";

/** What the packager reads of the notebook. */
export interface NotebookNames {
  /** The notebook's top-level values. */
  readonly scope: Record<string, unknown>;
  /** How a name was imported, if it was. */
  importOf(name: string): ImportBinding | undefined;
}

/**
 * The cell transform turns every use of a notebook name into `__tsp_scope.name` (the type checker
 * decided which identifiers those are), so the names a compiled function uses can be read off
 * its source.
 */
const NOTEBOOK_NAME = new RegExp(`\\b${SCOPE_PARAMETER}\\.([A-Za-z_$][\\w$]*)`, "g");
/** The engines' loader for `import` (engines/src/cell-rewrite.ts IMPORT_HOOK). */
const ENGINE_IMPORT = `globalThis[Symbol.for("tsparallel.engine.import")]`;
/** A function carries at most this much source (values included): beyond it, push the data and use ref(). */
const MAX_SOURCE_CHARS = 32 * 1024 * 1024;

const INTEROP = `{ defaultExport: ${defaultExport}, namespaceExport: ${namespaceExport}, namedExport: ${namedExport}, requireExport: ${requireExport} }`;
const INTEROP_CALL: Record<ImportBinding["kind"], string> = {
  default: "defaultExport",
  namespace: "namespaceExport",
  named: "namedExport",
  require: "requireExport",
};

/** Trusted source as the template strings devalue's `js` tag takes. */
function template(source: string): TemplateStringsArray {
  return Object.assign([source], { raw: [source] });
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `a ${(value as object).constructor?.name ?? "Object"}`;
  return `a ${typeof value}`;
}

/**
 * The source of a notebook function as an engine should evaluate it: an expression that builds a
 * private notebook scope holding the values and notebook functions it uses (and, in turn, what
 * those use), loads the modules its imports come from, and gives back the function. Names the
 * kernel does not hold (say, `declare`d ones pushed to the engines) fall through to the engine's
 * globals. Undefined for a function that uses no notebook name: it travels as written.
 */
export function packageNotebookFunction(fn: Function, notebook: NotebookNames): string | undefined {
  const main = functionExpressionSource(fn);
  if (!main.includes(`${SCOPE_PARAMETER}.`) && !main.includes(`${RUNTIME_PARAMETER}.`)) return undefined;
  const what = fn.name || "this function";
  const definitions: string[] = [];
  const imports: string[] = [];
  const seen = new Set<string>();
  let size = main.length;

  const fail = (name: string, user: string, value: unknown, reason: string): never => {
    throw new FunctionSerializationError(
      `${what} cannot be sent to the engines: it uses the notebook name '${name}'${user === what ? "" : ` (through ${user})`}, ` +
        `${describeValue(value)}, which cannot travel (${reason}). Create it on the engines (%px), or push a value that can travel and declare it.`,
    );
  };
  const functionSource = (value: Function, name: string, user: string): string => {
    let source: string;
    try {
      source = functionExpressionSource(value);
    } catch (err) {
      if (err instanceof FunctionSerializationError) return fail(name, user, value, err.message);
      throw err;
    }
    usesOf(source, name);
    return source;
  };
  const usesOf = (source: string, user: string): void => {
    for (const match of source.matchAll(NOTEBOOK_NAME)) add(match[1]!, user);
  };
  const add = (name: string, user: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const binding = notebook.importOf(name);
    if (binding) {
      const args = binding.kind === "named" ? `ns, ${JSON.stringify(binding.imported)}` : "ns";
      imports.push(`${ENGINE_IMPORT}(${JSON.stringify(binding.module)}).then((ns) => { ${SCOPE_PARAMETER}[${JSON.stringify(name)}] = __tsp_interop.${INTEROP_CALL[binding.kind]}(${args}); })`);
      return;
    }
    if (!Object.hasOwn(notebook.scope, name)) return;
    const value = notebook.scope[name];
    let source: string;
    if (typeof value === "function") source = functionSource(value, name, user);
    else {
      try {
        // Functions inside a value (an object of callbacks) travel as source too.
        source = uneval(value, (inner, js) => (typeof inner === "function" ? js(template(`(${functionSource(inner, name, user)})`)) : undefined));
      } catch (err) {
        if (!(err instanceof DevalueError)) throw err;
        const path = (err as DevalueError & { path?: string }).path;
        return fail(name, user, value, `${err.message}${path ? ` at ${name}${path}` : ""}`);
      }
    }
    size += source.length;
    if (size > MAX_SOURCE_CHARS) {
      throw new FunctionSerializationError(
        `${what} cannot be sent to the engines: the notebook values it uses ('${name}' and others) make over ${MAX_SOURCE_CHARS / 1024 / 1024} MiB of source; push the data (view.push) and pass ref("name") instead`,
      );
    }
    definitions.push(`${SCOPE_PARAMETER}[${JSON.stringify(name)}] = ${source};`);
  };

  usesOf(main, what);
  const lines = [
    `((${SCOPE_PARAMETER}) => {`,
    `const __tsp_interop = ${INTEROP};`,
    `const ${RUNTIME_PARAMETER} = { import: (specifier) => ${ENGINE_IMPORT}(specifier), ...__tsp_interop };`,
    ...definitions,
    // Through a property of the function's name, so an arrow keeps its name ("scale", not "__tsp_fn") in engine tracebacks.
    `const __tsp_fn = { ${JSON.stringify(fn.name)}: (${main}) }[${JSON.stringify(fn.name)}];`,
  ];
  if (imports.length === 0) {
    lines.push("return __tsp_fn;");
  } else {
    // Imports load once per engine, before the first call; the engine awaits a call's promise.
    lines.push(
      `let __tsp_loading = Promise.all([${imports.join(", ")}]).then(() => { __tsp_loading = null; });`,
      "__tsp_loading.catch(() => {});",
      `return function ${/^[A-Za-z_$][\w$]*$/.test(fn.name) ? fn.name : ""}(...args) { return __tsp_loading ? __tsp_loading.then(() => __tsp_fn.apply(this, args)) : __tsp_fn.apply(this, args); };`,
    );
  }
  lines.push("})(Object.create(globalThis))");
  return lines.join("\n");
}

/**
 * Packages with a cache that lasts one synchronous stretch (a map builds one task per chunk) and
 * only while every notebook value the function uses is still the same object.
 */
export function cachedPackager(notebook: NotebookNames): (fn: Function) => string | undefined {
  let cache = new Map<Function, { source: string | undefined; uses: Map<string, unknown> }>();
  let clearing = false;
  return (fn) => {
    const hit = cache.get(fn);
    if (hit && [...hit.uses].every(([name, value]) => notebook.scope[name] === value)) return hit.source;
    const source = packageNotebookFunction(fn, notebook);
    const uses = new Map<string, unknown>();
    if (source) for (const match of source.matchAll(NOTEBOOK_NAME)) uses.set(match[1]!, notebook.scope[match[1]!]);
    cache.set(fn, { source, uses });
    if (!clearing) {
      clearing = true;
      queueMicrotask(() => {
        clearing = false;
        cache = new Map();
      });
    }
    return source;
  };
}
