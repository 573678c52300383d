/**
 * What an `import` of a cell gives, from the namespace Node's `import()` returns. These follow
 * TypeScript's esModuleInterop (what the type checker assumed), not Node's stricter rule that a
 * CommonJS module exposes only the names its lexer could find.
 *
 * Each function is self-contained (no outside names): its source is also sent to engines with
 * notebook functions that use imports (see function-packager.ts).
 */

/** `import x from "m"`. */
export function defaultExport(namespace: unknown): unknown {
  const value = (namespace as { default?: unknown }).default;
  // A CommonJS module compiled from ESM keeps its default export under `default` (esModuleInterop).
  if (value && typeof value === "object" && (value as { __esModule?: boolean }).__esModule && "default" in value) {
    return (value as { default: unknown }).default;
  }
  return value;
}

/** `import * as x from "m"`: for CommonJS, every property of module.exports (Node may have found only some), plus `default`. */
export function namespaceExport(namespace: unknown): unknown {
  const ns = namespace as Record<string, unknown>;
  const exports = ns.default as Record<string, unknown> | null | undefined;
  if (!exports || (typeof exports !== "object" && typeof exports !== "function")) return namespace;
  if ((exports as { __esModule?: boolean }).__esModule) return exports;
  let missing = false;
  for (const key of Object.keys(exports)) {
    if (!(key in ns)) {
      missing = true;
      break;
    }
  }
  if (!missing) return namespace;
  const merged: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(exports)) merged[key] = exports[key];
  for (const key of Object.keys(ns)) merged[key] = ns[key];
  return Object.freeze(merged);
}

/** `import { name } from "m"`. */
export function namedExport(namespace: unknown, name: string): unknown {
  const ns = namespace as Record<string, unknown>;
  if (name in ns) return ns[name];
  const fallback = ns.default as Record<string, unknown> | null | undefined;
  return fallback && (typeof fallback === "object" || typeof fallback === "function") ? fallback[name] : undefined;
}

/** `import x = require("m")`: module.exports for CommonJS, the namespace for an ES module. */
export function requireExport(namespace: unknown): unknown {
  const ns = namespace as Record<string, unknown>;
  return "default" in ns && ns.default !== undefined ? ns.default : namespace;
}
