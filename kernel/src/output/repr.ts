import { inspect } from "node:util";
import type { MimeBundle } from "../jupyter/messages.js";

/** Objects can show themselves richly by defining this method, returning a MIME bundle. */
export const MIME_BUNDLE = Symbol.for("jupyter.mimebundle");

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
