import { createRequire } from "node:module";
import { join } from "node:path";
import { functionExpressionSource, setFunctionPackager } from "@tsparallel/protocol";
import { CellRunner } from "../runtime/cell-runner.js";
import { cachedPackager } from "../runtime/function-packager.js";
import type { Interrupts } from "../runtime/interrupts.js";
import { createModuleLoader } from "../runtime/module-loader.js";
import { cellSources } from "../output/cell-sources.js";
import { isShownAsResult } from "../output/repr.js";
import { shippedFunctions } from "../output/shipped-functions.js";
import { runtimeError } from "../output/traceback.js";
import { CellCompiler, type CompiledCell } from "../typescript/cell-compiler.js";
import { completions, type CompletionResult } from "../typescript/completions.js";
import { diagnosticsError } from "../typescript/diagnostics.js";
import { importBinding, type ImportBinding } from "../typescript/import-binding.js";
import { inspection } from "../typescript/inspection.js";
import { NotebookProgram } from "../typescript/notebook-program.js";
import type { MimeBundle } from "../jupyter/messages.js";
import type { CellOutcome } from "./outcome.js";

/**
 * TypeScript cells: checked against what earlier cells declared, run over the notebook scope,
 * and, once run, their declarations added to the scope for later cells.
 */
export class TypeScriptCells {
  readonly notebook: NotebookProgram;
  readonly #compiler: CellCompiler;
  readonly #runner: CellRunner;
  /** The cell running now: its imports are not in the notebook's declarations until it ends. */
  #running: CompiledCell | null = null;

  constructor(cwd: string, interrupts: Interrupts) {
    this.notebook = new NotebookProgram(cwd);
    this.#compiler = new CellCompiler(this.notebook);
    this.#runner = new CellRunner(createModuleLoader(cwd), interrupts);
    // @types/node declares `require`; an ES module kernel has none, so cells get one rooted at the notebook folder.
    const globals = globalThis as Record<string, unknown>;
    if (globals.require === undefined) globals.require = createRequire(join(cwd, "__notebook__.js"));
    // Notebook functions sent to engines (apply, map) take the notebook names they use along.
    const packager = cachedPackager({ scope: this.#runner.scope, importOf: (name) => this.#importOf(name) });
    setFunctionPackager((fn) => {
      const packaged = packager(fn);
      // Remembered with what is sent, so the engine's frames of it map back to the cell's TypeScript.
      try {
        shippedFunctions.record(fn, packaged ?? functionExpressionSource(fn));
      } catch {
        // A native function: describeFunction refuses it with its own message.
      }
      return packaged;
    });
  }

  #importOf(name: string): ImportBinding | undefined {
    const running = this.#running;
    const statement = running?.valueNames.includes(name) ? running.imports.get(name) : this.notebook.scope.importStatement(name);
    return statement === undefined ? undefined : importBinding(statement, name);
  }

  /** The notebook's top-level values, by name. */
  get scope(): Record<string, unknown> {
    return this.#runner.scope;
  }

  /** Parses the libraries (the first half of building the program), so warmUp() has less to do at once. */
  parseLibraries(): void {
    this.notebook.setCell("export {};\n");
    this.notebook.program();
  }

  /** Builds the program and its type checker once, so the first cell does not pay for it. */
  warmUp(): void {
    this.#compiler.compile("export {};");
  }

  /** Parses the part of @types/node the first cells could do without (see NotebookProgram), unless a cell already needed it. */
  completeNodeTypes(): boolean {
    if (!this.notebook.partial) return false;
    this.notebook.completeNodeTypes();
    this.notebook.program();
    return true;
  }

  async run(code: string, cellNumber: number): Promise<CellOutcome> {
    let compiled;
    try {
      compiled = this.#compiler.compile(code);
    } catch (err) {
      return { status: "error", error: runtimeError(err) };
    }
    if (!compiled.ok) return { status: "error", error: diagnosticsError(code, compiled.diagnostics) };
    const cell = compiled.cell;
    const filename = `cell[${cellNumber}]`;
    cellSources.register(filename, code, cell.js, cell.sourceMap);
    this.#running = cell;
    let outcome;
    try {
      outcome = await this.#runner.run(cell, filename);
    } finally {
      this.#running = null;
    }
    const committed = new Set(cell.typeNames);
    for (const name of outcome.ok ? cell.valueNames : outcome.assigned) committed.add(name);
    this.notebook.scope.commit(cell.dts, committed, cell.imports);
    if (!outcome.ok) return { status: "error", error: runtimeError(outcome.error) };
    return { status: "ok", value: outcome.value, hasValue: outcome.hasValue && isShownAsResult(outcome.value) };
  }

  // Completions and docs come from the whole program (module names, getBuiltinModule's types...).
  complete(code: string, position: number): CompletionResult {
    this.notebook.completeNodeTypes();
    return completions(this.notebook, code, position);
  }

  inspect(code: string, position: number): MimeBundle | null {
    this.notebook.completeNodeTypes();
    return inspection(this.notebook, code, position);
  }

  reset(): void {
    this.#runner.reset();
    this.notebook.scope.clear();
  }
}
