import ts = require("typescript");

/** True for statements whose names live only in the type world or only in this cell. */
function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

export function isAmbient(node: ts.Node): boolean {
  return hasModifier(node, ts.SyntaxKind.DeclareKeyword);
}

export function isExported(node: ts.Node): boolean {
  return hasModifier(node, ts.SyntaxKind.ExportKeyword);
}

/** `using` and `await using` bindings are disposed when the cell ends, so they stay local to it. */
export function isUsingDeclaration(list: ts.VariableDeclarationList): boolean {
  return (list.flags & ts.NodeFlags.Using) !== 0;
}

export function bindingNames(name: ts.BindingName, into: string[] = []): string[] {
  if (ts.isIdentifier(name)) into.push(name.text);
  else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bindingNames(element.name, into);
  return into;
}

function importNames(node: ts.ImportDeclaration): string[] {
  const clause = node.importClause;
  if (!clause) return [];
  const names: string[] = [];
  if (clause.name) names.push(clause.name.text);
  const bindings = clause.namedBindings;
  if (bindings && ts.isNamespaceImport(bindings)) names.push(bindings.name.text);
  if (bindings && ts.isNamedImports(bindings)) for (const spec of bindings.elements) names.push(spec.name.text);
  return names;
}

/**
 * The names a cell declares at its top level, which later cells can use: variables (but not
 * `using`), functions, classes, enums, namespaces, interfaces, type aliases and imports. Read
 * from the syntax alone, so it is known before the cell is type-checked.
 */
export function topLevelNames(file: ts.SourceFile): string[] {
  const names = new Set<string>();
  for (const statement of file.statements) {
    for (const name of statementNames(statement)) names.add(name);
  }
  return [...names];
}

export function statementNames(statement: ts.Statement): string[] {
  if (ts.isVariableStatement(statement)) {
    if (isUsingDeclaration(statement.declarationList)) return [];
    return statement.declarationList.declarations.flatMap((d) => bindingNames(d.name));
  }
  if (
    ts.isFunctionDeclaration(statement) ||
    ts.isClassDeclaration(statement) ||
    ts.isInterfaceDeclaration(statement) ||
    ts.isTypeAliasDeclaration(statement) ||
    ts.isEnumDeclaration(statement)
  ) {
    return statement.name ? [statement.name.text] : [];
  }
  if (ts.isModuleDeclaration(statement)) return ts.isIdentifier(statement.name) ? [statement.name.text] : [];
  if (ts.isImportDeclaration(statement)) return importNames(statement);
  if (ts.isImportEqualsDeclaration(statement)) return [statement.name.text];
  return [];
}
