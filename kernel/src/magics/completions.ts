import type { CompletionResult } from "../typescript/completions.js";

export const LINE_MAGICS = ["px", "pxresult", "result", "pxconfig", "autopx", "tspcluster"];
export const CELL_MAGICS = ["px"];

/** Completes `%na` / `%%na` at the start of a line; null elsewhere (TypeScript completes the rest). */
export function magicCompletions(code: string, position: number): CompletionResult | null {
  const lineStart = code.lastIndexOf("\n", position - 1) + 1;
  const before = code.slice(lineStart, position);
  const match = /^\s*(%%?)(\w*)$/.exec(before);
  if (!match) return null;
  const [, percent, prefix] = match as unknown as [string, string, string];
  const names = (percent === "%%" ? CELL_MAGICS : LINE_MAGICS).filter((name) => name.startsWith(prefix)).map((name) => `${percent}${name}`);
  const start = position - prefix.length - percent.length;
  return { matches: names, start, end: position, types: names.map((text) => ({ start, end: position, text, type: "magic" })) };
}
