import { SourceMap } from "node:module";

/** How many cells' sources are kept for tracebacks (functions of old cells may still run). */
const KEPT_CELLS = 1000;

interface CellSource {
  lines: string[];
  /** The compiled JavaScript, where the source of a function sent to the engines is found. */
  js: string;
  /**
   * The source map as TypeScript wrote it, parsed only when a traceback needs it: a parsed map is
   * many times the size of its text, and a thousand cells are kept.
   */
  sourceMap: string | null;
  /** Lines of the compiled JavaScript: a frame below them is the kernel's call of the cell. */
  jsLines: number;
}

export type MappedPosition = { line: number; column: number; source: string | undefined };

/**
 * The TypeScript of each cell run and the source map of its JavaScript, by the file name its
 * frames show (`cell[3]`), so a traceback can name TypeScript lines and columns and show the line.
 */
export class CellSources {
  readonly #cells = new Map<string, CellSource>();

  register(filename: string, code: string, js: string, sourceMap: string | null): void {
    this.#cells.delete(filename);
    this.#cells.set(filename, { lines: code.split("\n"), js, sourceMap, jsLines: js.split("\n").length });
    if (this.#cells.size > KEPT_CELLS) this.#cells.delete(this.#cells.keys().next().value!);
  }

  /** Where a function's source text starts in the newest cell whose JavaScript holds it (1-based line and column). */
  locate(text: string): { file: string; line: number; column: number } | null {
    for (const [file, cell] of [...this.#cells].reverse()) {
      const at = cell.js.indexOf(text);
      if (at >= 0) return { file, ...lineColumn(cell.js, at) };
    }
    return null;
  }

  /**
   * The TypeScript position (1-based) of a JavaScript position (1-based, as stacks show them);
   * "kernel" for the kernel's own wrapper around the cell; null when the cell is not known.
   */
  position(filename: string, line: number, column: number): MappedPosition | "kernel" | null {
    const cell = this.#cells.get(filename);
    if (!cell) return null;
    if (line < 1 || line > cell.jsLines) return "kernel";
    const map = parsedMap(cell.sourceMap);
    if (!map) return { line, column, source: cell.lines[line - 1] };
    const entry = map.findEntry(line - 1, column - 1) as { generatedLine?: number; originalLine?: number; originalColumn?: number };
    if (entry.originalLine === undefined || entry.originalColumn === undefined) return null;
    // The nearest mapping may be on an earlier line: then only the line is known.
    const sameLine = entry.generatedLine === line - 1;
    const mapped = { line: entry.originalLine + 1, column: sameLine ? entry.originalColumn + 1 : 1 };
    return { ...mapped, source: cell.lines[mapped.line - 1] };
  }
}

function parsedMap(sourceMap: string | null): SourceMap | null {
  if (!sourceMap) return null;
  try {
    return new SourceMap(JSON.parse(sourceMap) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    return null;
  }
}

/** The 1-based line and column of an offset in a text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf("\n") + 1;
  return { line: before.split("\n").length, column: offset - lineStart + 1 };
}

/** The kernel's one registry, filled by the TypeScript cells and read by every traceback. */
export const cellSources = new CellSources();
