import { createRequire, isBuiltin } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { resolveEsmOnly } from "@tsparallel/protocol";
import { defaultExport, namedExport, namespaceExport } from "./module-interop.js";

/** What compiled cells call to load modules (see RUNTIME_PARAMETER in the cell transform). */
export interface ModuleLoader {
  import(specifier: string): Promise<unknown>;
  require(specifier: string): unknown;
  defaultExport(namespace: unknown): unknown;
  namespaceExport(namespace: unknown): unknown;
  namedExport(namespace: unknown, name: string): unknown;
}

const KERNEL_PROVIDED = /^tsparallel(\/|$)/;
const kernelRequire = createRequire(import.meta.url);

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
    defaultExport,
    namespaceExport,
    namedExport,
  };
}
