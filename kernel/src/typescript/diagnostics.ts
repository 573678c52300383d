import ts = require("typescript");
import type { ErrorContent } from "../jupyter/messages.js";

export interface CellDiagnostic {
  /** Zero-based line and column in the cell. */
  line: number;
  column: number;
  length: number;
  code: number;
  message: string;
}

export function toCellDiagnostics(diagnostics: readonly ts.Diagnostic[], file: ts.SourceFile, codeLength: number): CellDiagnostic[] {
  const result: CellDiagnostic[] = [];
  for (const d of diagnostics) {
    if (d.category !== ts.DiagnosticCategory.Error) continue;
    const start = d.start ?? 0;
    // Errors in the export list the kernel appends are consequences of errors in the cell itself.
    if (d.file === file && start >= codeLength && codeLength > 0) continue;
    const position = d.file ? d.file.getLineAndCharacterOfPosition(Math.min(start, d.file.text.length)) : { line: 0, character: 0 };
    result.push({
      line: position.line,
      column: position.character,
      length: d.length ?? 0,
      code: d.code,
      message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
    });
  }
  return result;
}

const RED = "\u001b[31m";
const BOLD = "\u001b[1m";
const RESET = "\u001b[0m";

/** A Jupyter error for a cell that does not compile: each diagnostic with its line and a caret. */
export function diagnosticsError(code: string, diagnostics: CellDiagnostic[]): ErrorContent {
  const lines = code.split("\n");
  const traceback: string[] = [];
  for (const d of diagnostics) {
    traceback.push(`${BOLD}${d.line + 1}:${d.column + 1}${RESET} - ${RED}error TS${d.code}${RESET}: ${d.message}`);
    const source = lines[d.line];
    if (source !== undefined) {
      const width = Math.max(1, Math.min(d.length, source.length - d.column));
      traceback.push(`  ${source}`, `  ${" ".repeat(d.column)}${RED}${"~".repeat(width)}${RESET}`);
    }
  }
  const first = diagnostics[0];
  const more = diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more)` : "";
  return {
    ename: "TSError",
    evalue: first ? `${first.line + 1}:${first.column + 1} - ${first.message}${more}` : "the cell does not compile",
    traceback,
  };
}
