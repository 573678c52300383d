import { rewriteCell, type HoistedFunction } from "./cell-rewrite.js";

type Sucrase = typeof import("sucrase");
type Acorn = typeof import("acorn");

export interface CompiledCell {
  /** Body of a function that runs the cell (returning a promise when isAsync); line 1 is the wrapper's own. */
  functionBody: string;
  functions: HoistedFunction[];
  hasValue: boolean;
  /** Whether the function is async. A cell without top-level await runs synchronously, start to end. */
  isAsync: boolean;
}

/** Lines the wrapper puts before the cell: scripts are compiled with this negative line offset. */
export const WRAPPER_LINE_OFFSET = -1;

/** A cell that does not parse. Its stack is what a user needs: the cell line and a caret. */
export class CellSyntaxError extends SyntaxError {
  override name = "SyntaxError";
  constructor(message: string, filename: string, source: string, line: number, column: number | null) {
    super(message);
    const text = source.split("\n")[line - 1] ?? "";
    const caret = column === null ? [] : [`${" ".repeat(Math.max(0, column))}^`];
    this.stack = [`${filename}:${line}`, text, ...caret, "", `SyntaxError: ${message}`].join("\n");
  }
}

interface ParserError {
  message: string;
  loc?: { line: number; column: number };
}

const CACHE_LIMIT = 500;

/**
 * TypeScript cell -> JavaScript the engine can run. sucrase strips the types (keeping line numbers),
 * acorn parses the result, rewriteCell moves top-level names onto globalThis. Both tools are loaded
 * on the first execute only: an engine that only runs functions never pays their memory.
 */
export class CellCompiler {
  #tools: Promise<{ sucrase: Sucrase; acorn: Acorn }> | null = null;
  readonly #cache = new Map<string, CompiledCell>();

  #loaded: { sucrase: Sucrase; acorn: Acorn } | null = null;

  /** Whether compile can run synchronously (the tools are loaded). */
  get ready(): boolean {
    return this.#loaded !== null;
  }

  async load(): Promise<void> {
    this.#tools ??= Promise.all([import("sucrase"), import("acorn")]).then(([sucrase, acorn]) => ({ sucrase, acorn }));
    this.#loaded = await this.#tools;
  }

  /** Compiles a cell; call load() first. */
  compile(source: string, filename: string): CompiledCell {
    const cached = this.#cache.get(source);
    if (cached) return cached;
    if (!this.#loaded) throw new Error("internal error: the cell compiler is not loaded");
    const { sucrase, acorn } = this.#loaded;
    let code: string;
    try {
      code = sucrase.transform(source, { transforms: ["typescript"], disableESTransforms: true, keepUnusedImports: true }).code;
    } catch (err) {
      // sucrase columns are 1-based; its positions are in the user's own text, so a caret fits.
      throw this.#syntaxError(err as ParserError, filename, source, (loc) => loc.column - 1);
    }
    let program: import("acorn").Program;
    try {
      program = acorn.parse(code, { ecmaVersion: "latest", sourceType: "module", allowAwaitOutsideFunction: true });
    } catch (err) {
      // acorn saw the type-stripped text: the line is right, a caret might not be.
      throw this.#syntaxError(err as ParserError, filename, source, () => null);
    }
    const rewritten = rewriteCell(code, program);
    const compiled: CompiledCell = {
      functionBody: rewritten.isAsync
        ? `"use strict"; return (async () => {\n${rewritten.body}\n})();`
        : `"use strict";\n${rewritten.body}`,
      functions: rewritten.functions,
      hasValue: rewritten.hasValue,
      isAsync: rewritten.isAsync,
    };
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(source, compiled);
    return compiled;
  }

  #syntaxError(err: ParserError, filename: string, source: string, column: (loc: { line: number; column: number }) => number | null): Error {
    if (!err?.loc) return err as unknown as Error;
    return new CellSyntaxError(err.message, filename, source, err.loc.line, column(err.loc));
  }
}
