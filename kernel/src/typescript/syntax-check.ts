import ts = require("typescript");
import type { ErrorContent } from "../jupyter/messages.js";
import { diagnosticsError, toCellDiagnostics } from "./diagnostics.js";

/**
 * `%px` code is only parsed in the kernel (its names live on the engines, so it cannot be type
 * checked here): a syntax error is reported at once, with the line and a marker, and nothing is sent.
 */
export function syntaxError(code: string): ErrorContent | null {
  const output = ts.transpileModule(code, { reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
  const errors = (output.diagnostics ?? []).filter((d) => d.file !== undefined);
  if (errors.length === 0) return null;
  const diagnostics = toCellDiagnostics(errors, errors[0]!.file!, 0);
  if (diagnostics.length === 0) return null;
  return { ...diagnosticsError(code, diagnostics), ename: "SyntaxError" };
}
