import ts = require("typescript");

export interface Completeness {
  status: "complete" | "incomplete" | "invalid";
  indent?: string;
}

const OPEN = new Set([ts.SyntaxKind.OpenBraceToken, ts.SyntaxKind.OpenParenToken, ts.SyntaxKind.OpenBracketToken]);
const CLOSE = new Set([ts.SyntaxKind.CloseBraceToken, ts.SyntaxKind.CloseParenToken, ts.SyntaxKind.CloseBracketToken]);

/** Bracket depth at the end of the code, and whether it ends inside a template literal or comment. */
function scan(code: string): { depth: number; unterminated: boolean; unclosedString: boolean; negative: boolean } {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, code);
  let depth = 0;
  let negative = false;
  let unterminated = false;
  let unclosedString = false;
  // Template literals nest: `${` opens a brace the scanner must be told to resume the template after.
  const templateDepths: number[] = [];
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    if (token === ts.SyntaxKind.CloseBraceToken && templateDepths.at(-1) === depth) {
      token = scanner.reScanTemplateToken(false);
    }
    if (scanner.isUnterminated()) {
      if (token === ts.SyntaxKind.StringLiteral) unclosedString = true;
      else unterminated = true;
    }
    if (token === ts.SyntaxKind.TemplateHead) templateDepths.push(depth);
    else if (token === ts.SyntaxKind.TemplateTail) templateDepths.pop();
    else if (OPEN.has(token)) depth++;
    else if (CLOSE.has(token)) {
      depth--;
      if (depth < 0) negative = true;
    }
  }
  if (templateDepths.length > 0) unterminated = true;
  return { depth, unterminated, unclosedString, negative };
}

/** Magics whose argument line is code: `%px CODE`, `%time CODE`, `%timeit [-n N] [-r R] CODE`. */
const CODE_MAGIC = /^\s*%(?:px|time|timeit(?:\s+-[nr](?:\s+|=)\S+)*)\s+([\s\S]*)$/;

function magicCode(line: string): string | null {
  const match = CODE_MAGIC.exec(line);
  return match && !/^\s*%px\s+--help\s*$/.test(line) ? match[1]! : null;
}

/**
 * Whether a console should run the code now (complete), wait for more lines (incomplete: open
 * brackets, an unfinished template literal or comment, a statement cut off at the end), or run it
 * to show the syntax error (invalid).
 */
export function isComplete(code: string): Completeness {
  const trimmed = code.trimEnd();
  if (!trimmed) return { status: "complete" };
  if (/^\s*%%/.test(code)) {
    // A cell magic's body runs once the user adds an empty line, as in IPython.
    return code.includes("\n") && code.endsWith("\n\n") ? { status: "complete" } : { status: "incomplete", indent: "" };
  }
  const lines = trimmed.split("\n");
  if (lines.every((line) => /^\s*%/.test(line) || !line.trim())) {
    // `%px 1+`: a magic whose argument is code is as complete as that code.
    const code = magicCode(lines.at(-1)!);
    return code === null ? { status: "complete" } : isComplete(code);
  }
  const { depth, unterminated, unclosedString, negative } = scan(code);
  if (negative || unclosedString) return { status: "invalid" };
  if (depth > 0 || unterminated) return { status: "incomplete", indent: "  ".repeat(depth) };
  const output = ts.transpileModule(code, { reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
  const errors = (output.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length === 0) return { status: "complete" };
  // An error at the very end means the code stops mid-statement (`let x =`, `if (a)`): more may come.
  if (errors.some((d) => (d.start ?? 0) >= trimmed.length)) return { status: "incomplete", indent: "" };
  return { status: "invalid" };
}
