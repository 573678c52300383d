import { existsSync, readFileSync } from "node:fs";
import { createRequire, isBuiltin } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** What compiled cells call to load modules (see RUNTIME_PARAMETER in the cell transform). */
export interface ModuleLoader {
  import(specifier: string): Promise<unknown>;
  require(specifier: string): unknown;
  defaultExport(namespace: unknown): unknown;
  namedExport(namespace: unknown, name: string): unknown;
}

const KERNEL_PROVIDED = /^tsparallel(\/|$)/;
const kernelRequire = createRequire(import.meta.url);
const ESM_CONDITIONS = ["import", "node", "default"];

type Exports = string | null | Exports[] | { [key: string]: Exports };

function matchConditions(target: Exports): string | null {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const item of target) {
      const found = matchConditions(item);
      if (found) return found;
    }
    return null;
  }
  if (target && typeof target === "object") {
    for (const [key, value] of Object.entries(target)) if (ESM_CONDITIONS.includes(key)) return matchConditions(value);
  }
  return null;
}

function splitSpecifier(specifier: string): { name: string; subpath: string } {
  const parts = specifier.split("/");
  const count = specifier.startsWith("@") ? 2 : 1;
  const rest = parts.slice(count).join("/");
  return { name: parts.slice(0, count).join("/"), subpath: rest ? `./${rest}` : "." };
}

/**
 * Resolves a package whose `exports` only answer the `import` condition (ESM-only packages),
 * which `require.resolve` refuses, by walking node_modules up from `from`.
 */
function resolveEsmOnly(specifier: string, from: string): string | null {
  const { name, subpath } = splitSpecifier(specifier);
  for (let dir = from; ; dir = dirname(dir)) {
    const pkgDir = join(dir, "node_modules", name);
    const manifest = join(pkgDir, "package.json");
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { exports?: Exports; main?: string };
      const exportsField = pkg.exports;
      let target: string | null = null;
      if (exportsField && typeof exportsField === "object" && !Array.isArray(exportsField) && Object.keys(exportsField).some((k) => k.startsWith("."))) {
        target = matchConditions((exportsField as Record<string, Exports>)[subpath] ?? null);
      } else if (subpath === ".") {
        target = exportsField ? matchConditions(exportsField) : (pkg.main ?? "index.js");
      }
      return target ? join(pkgDir, target) : null;
    }
    if (dirname(dir) === dir) return null;
  }
}

/** Loads modules for cells: from the notebook's folder first, then from the kernel's own dependencies. */
export function createModuleLoader(cwd: string): ModuleLoader {
  const notebookRequire = createRequire(join(cwd, "__notebook__.js"));

  const resolveFile = (specifier: string): string => {
    if (specifier.startsWith(".") || isAbsolute(specifier)) return resolve(cwd, specifier);
    for (const req of [notebookRequire, kernelRequire]) {
      try {
        return req.resolve(specifier);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ERR_PACKAGE_PATH_NOT_EXPORTED") {
          const found = resolveEsmOnly(specifier, req === notebookRequire ? cwd : dirname(kernelRequire.resolve("tsparallel")));
          if (found) return found;
        } else if (code !== "MODULE_NOT_FOUND") {
          throw err;
        }
      }
    }
    throw Object.assign(new Error(`Cannot find module '${specifier}' from ${cwd}`), { code: "MODULE_NOT_FOUND" });
  };

  return {
    import(specifier: string): Promise<unknown> {
      // The kernel's own copy of tsparallel, so a notebook's Client is the one the %px magics use.
      if (isBuiltin(specifier) || KERNEL_PROVIDED.test(specifier)) return import(specifier);
      return import(pathToFileURL(resolveFile(specifier)).href);
    },
    require(specifier: string): unknown {
      if (isBuiltin(specifier) || KERNEL_PROVIDED.test(specifier)) return kernelRequire(specifier);
      try {
        return notebookRequire(specifier);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
        return kernelRequire(specifier);
      }
    },
    defaultExport(namespace: unknown): unknown {
      const value = (namespace as { default?: unknown }).default;
      // A CommonJS module compiled from ESM keeps its default export under `default` (esModuleInterop).
      if (value && typeof value === "object" && (value as { __esModule?: boolean }).__esModule && "default" in value) {
        return (value as { default: unknown }).default;
      }
      return value;
    },
    namedExport(namespace: unknown, name: string): unknown {
      const ns = namespace as Record<string, unknown>;
      if (name in ns) return ns[name];
      const fallback = ns.default as Record<string, unknown> | undefined;
      return fallback && typeof fallback === "object" ? fallback[name] : undefined;
    },
  };
}
