import { inspect } from "node:util";
import type { MimeBundle } from "../jupyter/messages.js";

/** Objects can show themselves richly by defining this method, returning a MIME bundle. */
export const MIME_BUNDLE = Symbol.for("jupyter.mimebundle");
/** Marks a value that is not shown when a cell ends with it (the handle `display(...)` returns). */
export const NOT_A_RESULT = Symbol.for("tsparallel.notAResult");

export function isShownAsResult(value: unknown): boolean {
  if (value === undefined) return false;
  return !(value !== null && typeof value === "object" && (value as Record<symbol, unknown>)[NOT_A_RESULT] === true);
}

export function plainText(value: unknown): string {
  return inspect(value, { depth: 4, colors: false, maxArrayLength: 100, maxStringLength: 100_000, breakLength: 100 });
}

/** How a value is shown as a cell result or by `display(value)`. */
export function mimeBundle(value: unknown): MimeBundle {
  const custom = value !== null && (typeof value === "object" || typeof value === "function") ? (value as Record<symbol, unknown>)[MIME_BUNDLE] : undefined;
  if (typeof custom === "function") {
    const bundle = (custom as () => unknown).call(value);
    if (bundle && typeof bundle === "object") return { "text/plain": plainText(value), ...(bundle as MimeBundle) };
  }
  return { "text/plain": plainText(value) };
}
