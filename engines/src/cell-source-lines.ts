import type { CompiledCell } from "./cell-compiler.js";

/** How many cells' sources an engine keeps for its tracebacks (functions of old cells may still run). */
const KEPT_CELLS = 200;
/** A frame in an engine cell: `<cell-3>:2:9`. */
const CELL_POSITION = /(<cell-[^>]+>):(\d+):(\d+)/;
/** The longest run of code after a position that is looked for in the TypeScript line. */
const NEEDLE = 24;
/** Shorter runs could match by chance. */
const MIN_NEEDLE = 3;

/** Source lines the engine adds below a frame: a gutter with the line number, then the marker. */
export const SOURCE_LINE = /^\s+(\d+ )?\| /;

interface CellLines {
  typescript: string[];
  /** What ran, by TypeScript line (the compiled cell keeps the user's lines, not their columns). */
  javascript: string[];
}

/**
 * The column in the TypeScript line of a column in the JavaScript that ran on that line. Stripping
 * types and moving names onto globalThis shift columns, but the code at the position (a call, a
 * `throw`) is the user's: the nearest place where the TypeScript line has it is the position.
 * Null when it cannot be found.
 */
export function typescriptColumn(javascript: string, typescript: string, column: number): number | null {
  if (javascript === typescript) return column;
  for (let length = Math.min(NEEDLE, javascript.length - column); length >= MIN_NEEDLE; length--) {
    const needle = javascript.slice(column, column + length);
    let best: number | null = null;
    for (let at = typescript.indexOf(needle); at >= 0; at = typescript.indexOf(needle, at + 1)) {
      if (best === null || Math.abs(at - column) < Math.abs(best - column)) best = at;
    }
    if (best !== null) return best;
  }
  return null;
}

/** Each compiled cell's lines, made once (the compiler caches a cell by its source). */
const linesOf = new WeakMap<CompiledCell, CellLines>();

/**
 * The TypeScript of each cell an engine ran, by the file name its frames show, so a traceback names
 * the TypeScript line and column and shows the line with a marker, as the kernel does for its own cells.
 */
export class CellSourceLines {
  readonly #cells = new Map<string, CellLines>();

  register(filename: string, source: string, compiled: CompiledCell): void {
    // A cell run again (the compiler's cache gave the same compiled object) shares its lines: none read or changes them.
    let lines = linesOf.get(compiled);
    if (!lines) {
      // The cell body starts on the wrapper's second line; hoisted functions sit at their own lines.
      const javascript = compiled.functionBody.split("\n").slice(1);
      for (const fn of compiled.functions) {
        fn.text.split("\n").forEach((text, k) => (javascript[fn.line - 1 + k] = k === 0 ? " ".repeat(fn.column) + text : text));
      }
      linesOf.set(compiled, (lines = { typescript: source.split("\n"), javascript }));
    }
    this.#cells.delete(filename);
    this.#cells.set(filename, lines);
    if (this.#cells.size > KEPT_CELLS) this.#cells.delete(this.#cells.keys().next().value!);
  }

  /** The traceback with each frame in a known cell at its TypeScript position, followed by its line and a marker. */
  annotate(traceback: string[]): string[] {
    return traceback.flatMap((frame) => this.#frameLines(frame));
  }

  #frameLines(frame: string): string[] {
    const match = /^\s+at /.test(frame) ? CELL_POSITION.exec(frame) : null;
    if (!match) return [frame];
    const [whole, file, lineText, columnText] = match as unknown as [string, string, string, string];
    const cell = this.#cells.get(file);
    const line = Number(lineText);
    const source = cell?.typescript[line - 1];
    if (!cell || source === undefined) return [frame];
    const column = typescriptColumn(cell.javascript[line - 1] ?? "", source, Number(columnText) - 1);
    const gutter = `${line}`;
    const shown = [column === null ? frame : frame.replace(whole, `${file}:${line}:${column + 1}`), `      ${gutter} | ${source}`];
    if (column !== null) shown.push(`      ${" ".repeat(gutter.length)} | ${" ".repeat(column)}^`);
    return shown;
  }
}

/** The engine's one registry, filled by the cells it runs and read by its task errors. */
export const cellSourceLines = new CellSourceLines();
