import ts = require("typescript");
import { cellTransformer, hasTopLevelAwait, type CellShape } from "./cell-transform.js";
import { mayReachDeferredModules } from "./deferred-node-types.js";
import { toCellDiagnostics, type CellDiagnostic } from "./diagnostics.js";
import type { NotebookProgram } from "./notebook-program.js";
import { importStatements } from "./cell-imports.js";
import { annotateUnnameable } from "./declaration-repair.js";
import { isAmbient, statementNames } from "./top-level.js";

export interface CompiledCell {
  /** JavaScript statements of the cell's function body. */
  js: string;
  /** The source map from `js` back to the cell's TypeScript. */
  sourceMap: string | null;
  /** The declaration file of the cell's top-level names, for later cells. */
  dts: string;
  /** Names with a runtime value (committed only once the cell really assigned them). */
  valueNames: string[];
  /** Names that exist only for the type checker (interfaces, aliases, `declare`d names). */
  typeNames: string[];
  /** The cell's imports, one statement per imported name. */
  imports: Map<string, string>;
  shape: CellShape;
}

export type CompileResult = { ok: true; cell: CompiledCell } | { ok: false; diagnostics: CellDiagnostic[] };

function isTypeOnlyStatement(statement: ts.Statement): boolean {
  if (isAmbient(statement)) return true;
  if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) return true;
  if (ts.isImportDeclaration(statement)) return statement.importClause?.isTypeOnly ?? false;
  if (ts.isImportEqualsDeclaration(statement)) return statement.isTypeOnly;
  return false;
}

function classifyNames(file: ts.SourceFile): { valueNames: string[]; typeNames: string[] } {
  const values = new Set<string>();
  const types = new Set<string>();
  for (const statement of file.statements) {
    const target = isTypeOnlyStatement(statement) ? types : values;
    for (const name of statementNames(statement)) target.add(name);
  }
  for (const name of values) types.delete(name);
  return { valueNames: [...values], typeNames: [...types] };
}

/**
 * Type-checks a cell against the notebook's scope and compiles it to the body of a function
 * over that scope, with the declarations later cells will see.
 */
export class CellCompiler {
  constructor(private readonly notebook: NotebookProgram) {}

  /**
   * While part of @types/node is deferred, a cell is compiled against the partial program and
   * kept only when that is sure to give what the whole would: no errors (a missing deferred module
   * is one), no other files than the first program's, no getBuiltinModule. Otherwise the rest of
   * @types/node is parsed now and the cell compiled again.
   */
  compile(code: string): CompileResult {
    if (!this.notebook.partial) return this.#compile(code);
    if (!mayReachDeferredModules(code)) {
      const result = this.#compile(code);
      if (result.ok && this.notebook.holdsOnlyPartialFiles(this.notebook.program())) return result;
    }
    this.notebook.completeNodeTypes();
    return this.#compile(code);
  }

  #compile(code: string): CompileResult {
    const parsed = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.ES2022, true);
    const { valueNames, typeNames } = classifyNames(parsed);
    const exported = [...valueNames, ...typeNames];
    // Exporting every top-level name makes the declaration emitter describe all of them.
    const suffix = exported.length ? `\n;export { ${exported.join(", ")} };\n` : "\n";
    const tail = suffix + this.notebook.scope.carriedImports(new Set(exported));
    this.notebook.setCell(code + tail);
    const program = this.notebook.program();
    const file = program.getSourceFile(this.notebook.cellFile);
    if (!file) throw new Error("the cell file is missing from the program");
    const diagnostics = toCellDiagnostics([...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)], file, code.length);
    if (diagnostics.length > 0) return { ok: false, diagnostics };

    const shape: CellShape = { isAsync: hasTopLevelAwait(file), returnsValue: false };
    let js = "";
    let dts = "";
    let sourceMap: string | null = null;
    const result = program.emit(
      file,
      (fileName, text) => {
        if (fileName.endsWith(".d.ts")) dts = text;
        else if (fileName.endsWith(".js.map")) sourceMap = text;
        else if (fileName.endsWith(".js")) js = text;
      },
      undefined,
      false,
      { before: [cellTransformer(program.getTypeChecker(), this.notebook.isScopeFile, shape, code.length)] },
    );
    if (result.emitSkipped && js && !dts) {
      const repaired = this.#repairedDeclarations(code, tail, file, program.getTypeChecker(), result.diagnostics);
      if (repaired !== null) dts = repaired;
    }
    if (!js || (result.emitSkipped && !dts)) {
      const reported = toCellDiagnostics(result.diagnostics, file, code.length);
      if (reported.length > 0) return { ok: false, diagnostics: reported };
      throw new Error(`TypeScript did not emit the cell${result.diagnostics.length ? `: ${ts.flattenDiagnosticMessageText(result.diagnostics[0]!.messageText, "\n")}` : ""}`);
    }
    // The module marker TypeScript adds to an ES module without imports cannot stand in a function body.
    js = js.replace(/^export \{\};\s*$/m, "").replace(/^\/\/# sourceMappingURL=.*$/m, "");
    return { ok: true, cell: { js, sourceMap, dts, valueNames, typeNames, imports: importStatements(parsed), shape } };
  }

  /**
   * The cell's declarations when TypeScript could not write them as inferred: compiled again for
   * declarations only, with the variables it could not describe annotated (by the checker's
   * printed type, else `any`). The cell's JavaScript is the first compilation's.
   */
  #repairedDeclarations(code: string, tail: string, file: ts.SourceFile, checker: ts.TypeChecker, diagnostics: readonly ts.Diagnostic[]): string | null {
    for (const asAny of [false, true]) {
      const annotated = annotateUnnameable(code, file, checker, diagnostics, asAny);
      if (annotated === null) return null;
      this.notebook.setCell(annotated + tail);
      const program = this.notebook.program();
      const again = program.getSourceFile(this.notebook.cellFile);
      if (!again) return null;
      let dts = "";
      const result = program.emit(again, (fileName, text) => fileName.endsWith(".d.ts") && (dts = text), undefined, true);
      if (!result.emitSkipped && dts) return dts;
    }
    return null;
  }
}
