import vm from "node:vm";
import { CellCompiler, WRAPPER_LINE_OFFSET, type CompiledCell } from "./cell-compiler.js";
import { cellSourceLines } from "./cell-source-lines.js";
import { IMPORT_HOOK } from "./cell-rewrite.js";
import { callInterruptibly } from "./interrupt.js";
import { importFromCwd } from "./module-import.js";

export interface CellOutcome {
  hasValue: boolean;
  value?: unknown;
}

/**
 * Runs TypeScript cells in the engine's one persistent namespace (the real globalThis, so values
 * pushed by clients and created by cells are the same realm's objects). A cell without top-level
 * await runs synchronously, so a stream of tiny cells never waits on the event loop.
 */
export class CellExecutor {
  readonly #compiler = new CellCompiler();
  #executionCount = 0;

  constructor() {
    (globalThis as Record<symbol, unknown>)[IMPORT_HOOK] = importFromCwd;
  }

  get executionCount(): number {
    return this.#executionCount;
  }

  execute(code: string, silent = false): CellOutcome | Promise<CellOutcome> {
    if (this.#compiler.ready) return this.#run(code, silent);
    // The first cell loads the compiler; its own code then runs where SIGINT can still stop it.
    return this.#compiler.load().then(() => callInterruptibly(() => this.#run(code, silent)));
  }

  #run(code: string, silent: boolean): CellOutcome | Promise<CellOutcome> {
    const executionCount = silent ? undefined : ++this.#executionCount;
    const filename = `<cell-${executionCount ?? "silent"}>`;
    const compiled = this.#compiler.compile(code, filename);
    cellSourceLines.register(filename, code, compiled);
    // vm.compileFunction, not vm.Script: on Node 20 every distinct Script stays in memory for good.
    for (const fn of compiled.functions) {
      // On line 2, indented to its own column, so its positions are the cell's.
      const body = `"use strict"; return (\n${" ".repeat(fn.column)}${fn.text}\n);`;
      (globalThis as Record<string, unknown>)[fn.name] = vm.compileFunction(body, [], { filename, lineOffset: fn.line - 2 })();
    }
    const value = vm.compileFunction(compiled.functionBody, [], { filename, lineOffset: WRAPPER_LINE_OFFSET })();
    if (compiled.isAsync) return (value as Promise<unknown>).then((settled) => outcome(compiled, settled, silent));
    return outcome(compiled, value, silent);
  }
}

function outcome(compiled: CompiledCell, value: unknown, silent: boolean): CellOutcome {
  const hasValue = !silent && compiled.hasValue && value !== undefined;
  return hasValue ? { hasValue, value } : { hasValue };
}
