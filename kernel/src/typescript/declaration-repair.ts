import ts = require("typescript");

/** Declaration emit errors: "exported variable 'x' has or is using name ... but cannot be named" and kin. */
const UNNAMEABLE = (code: number) => code >= 4000 && code < 5000;

const TYPE_FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseFullyQualifiedType | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;

/**
 * When TypeScript cannot write a cell's declarations (a variable whose inferred type names
 * something its module does not export, as `await import("node:fs")` does), gives the cell text
 * with those variables annotated: the type as the checker prints it, or `any` when even that
 * cannot be declared. Later cells are then checked against that. Null when there is nothing to annotate.
 */
export function annotateUnnameable(code: string, file: ts.SourceFile, checker: ts.TypeChecker, diagnostics: readonly ts.Diagnostic[], asAny: boolean): string | null {
  const targets = new Map<number, ts.VariableDeclaration>();
  for (const d of diagnostics) {
    if (d.file !== file || d.start === undefined || !UNNAMEABLE(d.code) || d.start >= code.length) continue;
    let node: ts.Node | undefined = findToken(file, d.start);
    while (node && !ts.isVariableDeclaration(node)) node = node.parent;
    if (node && ts.isVariableDeclaration(node) && !node.type && ts.isIdentifier(node.name)) targets.set(node.name.end, node);
  }
  if (targets.size === 0) return null;
  let text = code;
  for (const [end, declaration] of [...targets].sort((a, b) => b[0] - a[0])) {
    const type = asAny ? "any" : (importedModule(declaration) ?? checker.typeToString(checker.getTypeAtLocation(declaration.name), declaration, TYPE_FLAGS));
    text = `${text.slice(0, end)}: ${type}${text.slice(end)}`;
  }
  return text;
}

/** `const m = await import("x")`: the namespace type of "x", as a declaration can name it. */
function importedModule(declaration: ts.VariableDeclaration): string | null {
  let init = declaration.initializer;
  while (init && (ts.isAwaitExpression(init) || ts.isParenthesizedExpression(init))) init = init.expression;
  if (!init || !ts.isCallExpression(init) || init.expression.kind !== ts.SyntaxKind.ImportKeyword) return null;
  const specifier = init.arguments[0];
  return specifier && ts.isStringLiteralLike(specifier) ? `typeof import(${JSON.stringify(specifier.text)})` : null;
}

function findToken(file: ts.SourceFile, position: number): ts.Node | undefined {
  let found: ts.Node | undefined;
  const visit = (node: ts.Node): void => {
    if (position < node.getStart(file) || position >= node.getEnd()) return;
    found = node;
    ts.forEachChild(node, visit);
  };
  ts.forEachChild(file, visit);
  return found;
}
