import ts = require("typescript");

function printed(node: ts.Node, file: ts.SourceFile): string {
  return node.getText(file);
}

/**
 * One import statement per name a cell imports (`import { a, b as c } from "m"` gives
 * `a -> import { a } from "m"` and `c -> import { b as c } from "m"`), so later cells can be
 * given exactly the imports whose names they have not declared again.
 */
export function importStatements(file: ts.SourceFile): Map<string, string> {
  const statements = new Map<string, string>();
  for (const statement of file.statements) {
    if (ts.isImportDeclaration(statement) && statement.importClause) {
      const clause = statement.importClause;
      const from = `${printed(statement.moduleSpecifier, file)}${statement.attributes ? ` ${printed(statement.attributes, file)}` : ""}`;
      const type = clause.isTypeOnly ? "type " : "";
      if (clause.name) statements.set(clause.name.text, `import ${type}${clause.name.text} from ${from};`);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) {
        statements.set(bindings.name.text, `import ${type}* as ${bindings.name.text} from ${from};`);
      } else if (bindings && ts.isNamedImports(bindings)) {
        for (const spec of bindings.elements) {
          const imported = spec.propertyName ? `${printed(spec.propertyName, file)} as ` : "";
          const specType = !type && spec.isTypeOnly ? "type " : "";
          statements.set(spec.name.text, `import ${type}{ ${specType}${imported}${spec.name.text} } from ${from};`);
        }
      }
    } else if (ts.isImportEqualsDeclaration(statement)) {
      statements.set(statement.name.text, printed(statement, file));
    }
  }
  return statements;
}
