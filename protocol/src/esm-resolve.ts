import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

type Exports = string | null | Exports[] | { [condition: string]: Exports };

/** The conditions an ES module import matches, in Node's order of preference. */
const IMPORT_CONDITIONS = ["import", "node", "default"];

function matchConditions(target: Exports | undefined): string | null {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const option of target) {
      const found = matchConditions(option);
      if (found) return found;
    }
    return null;
  }
  if (target && typeof target === "object") {
    // As Node does: the first matching condition decides, even when it maps to null (not exported).
    for (const [condition, value] of Object.entries(target)) if (IMPORT_CONDITIONS.includes(condition)) return matchConditions(value);
  }
  return null;
}

function splitBareSpecifier(specifier: string): { name: string; subpath: string } | null {
  if (specifier.startsWith(".") || specifier.startsWith("/")) return null;
  const parts = specifier.split("/");
  const nameLength = specifier.startsWith("@") ? 2 : 1;
  if (parts.length < nameLength) return null;
  const rest = parts.slice(nameLength).join("/");
  return { name: parts.slice(0, nameLength).join("/"), subpath: rest ? `./${rest}` : "." };
}

/**
 * The file a bare specifier names in a package whose `exports` answer only the `import` condition
 * (an ESM-only package, which `require.resolve` refuses), looking in node_modules from `from` up.
 * Null when no such package or export exists. Shared by the engines' and the kernel's `import`.
 */
export function resolveEsmOnly(specifier: string, from: string): string | null {
  const bare = splitBareSpecifier(specifier);
  if (!bare) return null;
  for (let dir = from; ; dir = dirname(dir)) {
    const packageDir = join(dir, "node_modules", bare.name);
    const manifestPath = join(packageDir, "package.json");
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { exports?: Exports; main?: string };
      const exportsField = manifest.exports;
      const isSubpathMap = exportsField !== null && typeof exportsField === "object" && !Array.isArray(exportsField)
        && Object.keys(exportsField).some((key) => key.startsWith("."));
      let target: string | null = null;
      if (isSubpathMap) target = matchConditions((exportsField as Record<string, Exports>)[bare.subpath]);
      else if (bare.subpath === ".") target = exportsField ? matchConditions(exportsField) : (manifest.main ?? "index.js");
      return target ? join(packageDir, target) : null;
    }
    if (dirname(dir) === dir) return null;
  }
}
