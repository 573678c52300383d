import { existsSync, readFileSync } from "node:fs";
import { createRequire, isBuiltin } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

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

const CONDITIONS = ["import", "node", "default"];

function pickTarget(target: unknown): string | null {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const option of target) {
      const picked = pickTarget(option);
      if (picked) return picked;
    }
    return null;
  }
  if (target && typeof target === "object") {
    for (const [condition, value] of Object.entries(target)) {
      if (CONDITIONS.includes(condition)) {
        const picked = pickTarget(value);
        if (picked) return picked;
      }
    }
  }
  return null;
}

function splitBareSpecifier(specifier: string): { name: string; subpath: string } | null {
  if (specifier.startsWith(".") || specifier.startsWith("/")) return null;
  const parts = specifier.split("/");
  const nameLength = specifier.startsWith("@") ? 2 : 1;
  if (parts.length < nameLength) return null;
  const name = parts.slice(0, nameLength).join("/");
  const rest = parts.slice(nameLength).join("/");
  return { name, subpath: rest ? `./${rest}` : "." };
}

function resolveEsmOnly(specifier: string, from: string): string | null {
  const bare = splitBareSpecifier(specifier);
  if (!bare) return null;
  for (let dir = from; ; dir = dirname(dir)) {
    const packageDir = join(dir, "node_modules", bare.name);
    const manifestPath = join(packageDir, "package.json");
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { exports?: unknown };
      const exportsField = manifest.exports;
      const isSubpathMap = exportsField !== null && typeof exportsField === "object" && !Array.isArray(exportsField)
        && Object.keys(exportsField).some((key) => key.startsWith("."));
      const entry = isSubpathMap ? (exportsField as Record<string, unknown>)[bare.subpath] : bare.subpath === "." ? exportsField : undefined;
      const target = pickTarget(entry);
      return target ? join(packageDir, target) : null;
    }
    if (dirname(dir) === dir) return null;
  }
}
