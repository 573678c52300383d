import ts = require("typescript");
import type { NotebookProgram } from "./notebook-program.js";

export interface CompletionResult {
  matches: string[];
  start: number;
  end: number;
  types: { start: number; end: number; text: string; type: string }[];
}

const IDENTIFIER_CHAR = /[\w$]/;

/** Completions at a position of the cell, from the TypeScript language service (UTF-16 offsets). */
export function completions(notebook: NotebookProgram, code: string, position: number): CompletionResult {
  notebook.setCell(code + "\n" + notebook.scope.carriedImports(new Set()));
  let start = position;
  while (start > 0 && IDENTIFIER_CHAR.test(code[start - 1]!)) start--;
  const info = notebook.service.getCompletionsAtPosition(notebook.cellFile, position, {
    includeCompletionsWithInsertText: true,
    includeCompletionsForModuleExports: false,
  });
  if (!info) return { matches: [], start, end: position, types: [] };
  // Inside a string (module names, keys) the language service says what it replaces.
  const span = info.optionalReplacementSpan;
  if (span && span.start < start && code[span.start] !== undefined && !IDENTIFIER_CHAR.test(code[span.start]!)) start = span.start;
  const prefix = code.slice(start, position);
  const entries = info.entries
    .filter((e) => e.name.startsWith(prefix))
    .sort((a, b) => a.sortText.localeCompare(b.sortText) || a.name.localeCompare(b.name));
  const seen = new Set<string>();
  const unique = entries.filter((e) => !seen.has(e.name) && seen.add(e.name));
  return {
    matches: unique.map((e) => e.name),
    start,
    end: position,
    types: unique.map((e) => ({ start, end: position, text: e.name, type: e.kind })),
  };
}
