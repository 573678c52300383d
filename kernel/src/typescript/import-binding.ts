import ts = require("typescript");

/** How one imported name gets its value from its module. */
export interface ImportBinding {
  module: string;
  kind: "default" | "namespace" | "named" | "require";
  /** The exported name, for `named`. */
  imported?: string;
}

/**
 * Reads one of the kernel's per-name import statements (see cell-imports.ts) back into what it
 * imports. Undefined for a type-only import, or `import x = A.B` (a value of the notebook itself).
 */
export function importBinding(statement: string, local: string): ImportBinding | undefined {
  const file = ts.createSourceFile("import.ts", statement, ts.ScriptTarget.ES2022, false);
  const node = file.statements[0];
  if (!node) return undefined;
  if (ts.isImportEqualsDeclaration(node)) {
    if (node.isTypeOnly || !ts.isExternalModuleReference(node.moduleReference)) return undefined;
    const expression = node.moduleReference.expression;
    return ts.isStringLiteral(expression) ? { module: expression.text, kind: "require" } : undefined;
  }
  if (!ts.isImportDeclaration(node) || !ts.isStringLiteral(node.moduleSpecifier)) return undefined;
  const clause = node.importClause;
  if (!clause || clause.isTypeOnly) return undefined;
  const module = node.moduleSpecifier.text;
  if (clause.name?.text === local) return { module, kind: "default" };
  const bindings = clause.namedBindings;
  if (bindings && ts.isNamespaceImport(bindings)) return { module, kind: "namespace" };
  if (bindings && ts.isNamedImports(bindings)) {
    const spec = bindings.elements.find((e) => e.name.text === local);
    if (!spec || spec.isTypeOnly) return undefined;
    return { module, kind: "named", imported: (spec.propertyName ?? spec.name).text };
  }
  return undefined;
}
