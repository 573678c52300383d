import { cellSources, lineColumn, type MappedPosition } from "./cell-sources.js";

/** What an engine compiles a shipped source into (engines/src/function-cache.ts): line 1 is shifted by it. */
const ENGINE_PREFIX = `"use strict"; return (`;
/** How many shipped functions are remembered, by name (the newest of a name wins). */
const KEPT_FUNCTIONS = 200;

interface Shipped {
  /** The source as sent (a packaged notebook function wraps the function's own text). */
  source: string;
  /** The function's own text, as it stands in its cell's JavaScript. */
  text: string;
  cell: string;
  /** Where that text starts in the cell's JavaScript (1-based). */
  line: number;
  column: number;
}

/**
 * Notebook functions sent to the engines, so a frame of the engine's `<function name>:line:col`
 * turns into the cell, TypeScript line and column it was written at.
 */
export class ShippedFunctions {
  readonly #byName = new Map<string, Shipped>();
  readonly #recorded = new WeakMap<Function, string>();

  record(fn: Function, source: string): void {
    if (this.#recorded.get(fn) === source) return;
    this.#recorded.set(fn, source);
    const text = Function.prototype.toString.call(fn);
    const origin = source.includes(text) ? cellSources.locate(text) : null;
    if (!origin) return;
    this.#byName.delete(fn.name);
    this.#byName.set(fn.name, { source, text, cell: origin.file, line: origin.line, column: origin.column });
    if (this.#byName.size > KEPT_FUNCTIONS) this.#byName.delete(this.#byName.keys().next().value!);
  }

  /**
   * The cell and TypeScript position of a position (1-based) in the engine's `<function name>`: in the
   * function's own text, or in a notebook function it took along (found by the code around the
   * position in the newest cell that has it). Null when neither tells.
   */
  position(name: string, line: number, column: number): { cell: string; position: MappedPosition } | null {
    const shipped = this.#byName.get(name);
    if (!shipped) return null;
    const lines = shipped.source.split("\n");
    if (line < 1 || line > lines.length) return null;
    const column0 = column - 1 - (line === 1 ? ENGINE_PREFIX.length : 0);
    if (column0 < 0) return null;
    const offset = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0) + column0;
    const start = shipped.source.indexOf(shipped.text);
    if (start >= 0 && offset >= start && offset < start + shipped.text.length) {
      return mapped(shipped.cell, { line: shipped.line, column: shipped.column }, shipped.text, offset - start);
    }
    for (const [before, after] of CONTEXTS) {
      const from = Math.max(0, offset - before);
      const around = shipped.source.slice(from, offset + after);
      if (around.length < MIN_CONTEXT) continue;
      const origin = cellSources.locate(around);
      if (origin) return mapped(origin.file, origin, around, offset - from);
    }
    return null;
  }
}

/** Code around a position (chars before, after) looked for in the cells, most telling first. */
const CONTEXTS: [number, number][] = [[40, 40], [0, 40], [40, 1], [0, 16]];
const MIN_CONTEXT = 8;

/** The TypeScript position of `at` chars into `text`, which starts at `origin` in a cell's JavaScript. */
function mapped(cell: string, origin: { line: number; column: number }, text: string, at: number): { cell: string; position: MappedPosition } | null {
  const inside = lineColumn(text, at);
  const jsLine = origin.line + inside.line - 1;
  const jsColumn = inside.line === 1 ? origin.column + inside.column - 1 : inside.column;
  const position = cellSources.position(cell, jsLine, jsColumn);
  return position === null || position === "kernel" ? null : { cell, position };
}

/** The kernel's one registry, filled as functions are packaged and read by tracebacks. */
export const shippedFunctions = new ShippedFunctions();
