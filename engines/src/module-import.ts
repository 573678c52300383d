import { createRequire, isBuiltin } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { resolveEsmOnly } from "@tsparallel/protocol";

/**
 * `import` in an execute cell resolves like code sitting in the engine's working directory (not
 * like the engine's own files): bare names are looked up in node_modules from process.cwd() up.
 *
 * Resolution uses require.resolve from the cwd, which applies the "require"/"default" export
 * conditions; for ESM-only packages (only an "import" condition) it falls back to reading the
 * package's "exports" with the conditions import, node, default. The resolved file is then loaded
 * with the engine's real import(), so both CommonJS and ES modules work.
 */
export async function importFromCwd(specifier: string): Promise<unknown> {
  if (isBuiltin(specifier) || /^(node|data|file):/.test(specifier)) return import(specifier);
  const base = join(process.cwd(), "noop.js");
  let path: string;
  try {
    path = createRequire(base).resolve(specifier);
  } catch (err) {
    const esmOnly = resolveEsmOnly(specifier, process.cwd());
    if (!esmOnly) throw notFound(specifier, err);
    path = esmOnly;
  }
  return import(pathToFileURL(path).href);
}

/** The resolver's own message names a stand-in file; say where the engine looked instead. */
function notFound(specifier: string, err: unknown): unknown {
  if ((err as { code?: string }).code !== "MODULE_NOT_FOUND") return err;
  const error = new Error(`Cannot find module '${specifier}' from the engine's working directory ${process.cwd()}`);
  (error as Error & { code: string }).code = "MODULE_NOT_FOUND";
  return error;
}
