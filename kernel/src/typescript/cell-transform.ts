import ts = require("typescript");
import { isAmbient, isUsingDeclaration } from "./top-level.js";

/** The notebook scope object every cell reads and writes its top-level names through. */
export const SCOPE_PARAMETER = "__tsp_scope";
/** The kernel's runtime helpers (module loading) handed to every cell. */
export const RUNTIME_PARAMETER = "__tsp_rt";

export interface CellShape {
  /** The cell awaits at its top level (or imports), so it runs as an async function. */
  isAsync: boolean;
  /** The cell ends with an expression whose value is returned. */
  returnsValue: boolean;
}

const f = ts.factory;

function scopeAccess(name: string, original?: ts.Node): ts.PropertyAccessExpression {
  const access = f.createPropertyAccessExpression(f.createIdentifier(SCOPE_PARAMETER), name);
  if (original) ts.setTextRange(access, original);
  return access;
}

function runtimeCall(method: string, args: ts.Expression[]): ts.CallExpression {
  return f.createCallExpression(f.createPropertyAccessExpression(f.createIdentifier(RUNTIME_PARAMETER), method), undefined, args);
}

function assign(target: ts.Expression, value: ts.Expression): ts.ExpressionStatement {
  return f.createExpressionStatement(f.createAssignment(target, value));
}

function isFunctionBoundary(node: ts.Node): boolean {
  return ts.isFunctionLike(node) || ts.isClassStaticBlockDeclaration(node) || ts.isPropertyDeclaration(node);
}

/** Top-level `await`, `for await` or `await using` make the cell an async function. */
export function hasTopLevelAwait(file: ts.SourceFile): boolean {
  let found = false;
  const walk = (node: ts.Node): void => {
    if (found || isFunctionBoundary(node)) return;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) found = true;
    else if (ts.isVariableDeclarationList(node) && (node.flags & ts.NodeFlags.AwaitUsing) === ts.NodeFlags.AwaitUsing) found = true;
    else ts.forEachChild(node, walk);
  };
  ts.forEachChild(file, walk);
  return found || file.statements.some((s) => ts.isImportDeclaration(s) && !s.importClause?.isTypeOnly);
}

/** Where an identifier is a name being declared or a property key, not a reference to a binding. */
function isReference(id: ts.Identifier): boolean {
  const parent = id.parent as ts.Node & { name?: ts.Node; propertyName?: ts.Node; label?: ts.Node };
  if (!parent) return false;
  if (ts.isPropertyAccessExpression(parent)) return parent.expression === id;
  if (ts.isQualifiedName(parent) || ts.isMetaProperty(parent)) return false;
  if (ts.isShorthandPropertyAssignment(parent)) return false;
  if (parent.name === id || parent.propertyName === id || parent.label === id) return false;
  return true;
}

/**
 * Rewrites a type-checked cell into the body of a function over the notebook scope:
 * - every top-level declaration becomes an assignment to the scope (`const a = 1` -> `S.a = 1`,
 *   function declarations are hoisted as `S.f = function f() {}`, classes, enums and namespaces
 *   are declared locally and then stored);
 * - every reference to a name of the scope (this cell's top-level names, or earlier cells')
 *   reads the scope, so functions see later reassignments as in a Python notebook;
 * - imports become awaited dynamic loads, since a function body cannot hold `import`;
 * - a final expression statement becomes `return`.
 * `using` declarations stay local so they are disposed when the cell ends.
 */
export function cellTransformer(
  checker: ts.TypeChecker,
  isScopeFile: (fileName: string) => boolean,
  shape: CellShape,
  /** Where the user's code ends: after it come the kernel's export list and the imports carried from earlier cells. */
  codeLength: number,
): ts.TransformerFactory<ts.SourceFile> {
  return (context) => (file) => {
    const cellSymbols = new Set<ts.Symbol>();
    const ownSymbols = new Set<ts.Symbol>();
    let moduleCounter = 0;

    const symbolOf = (node: ts.Node): ts.Symbol | undefined => {
      const original = ts.getOriginalNode(node);
      return original.pos >= 0 ? checker.getSymbolAtLocation(original) : undefined;
    };
    const isValueAlias = (symbol: ts.Symbol): boolean => {
      if (!(symbol.flags & ts.SymbolFlags.Alias)) return true;
      try {
        return (checker.getAliasedSymbol(symbol).flags & ts.SymbolFlags.Value) !== 0;
      } catch {
        return false;
      }
    };
    const isNotebookSymbol = (symbol: ts.Symbol): boolean => {
      if (ownSymbols.has(symbol)) return false;
      if (cellSymbols.has(symbol)) return true;
      if (symbol.flags & ts.SymbolFlags.Alias) {
        return (symbol.declarations ?? []).some((d) => isScopeFile(d.getSourceFile().fileName)) && isValueAlias(symbol);
      }
      const declaration = symbol.valueDeclaration;
      return !!declaration && isScopeFile(declaration.getSourceFile().fileName);
    };
    const rememberCellSymbol = (name: ts.Node | undefined): void => {
      const symbol = name && checker.getSymbolAtLocation(name);
      if (symbol && isValueAlias(symbol)) cellSymbols.add(symbol);
    };
    const rememberBinding = (name: ts.BindingName): void => {
      if (ts.isIdentifier(name)) rememberCellSymbol(name);
      else for (const element of name.elements) if (!ts.isOmittedExpression(element)) rememberBinding(element.name);
    };

    const isCarried = (statement: ts.Statement) => statement.pos >= codeLength;
    for (const statement of file.statements) {
      if (isAmbient(statement)) continue;
      if (isCarried(statement)) {
        // An earlier cell's import: its value is in the scope already, so references read it there.
        if (ts.isImportDeclaration(statement) || ts.isImportEqualsDeclaration(statement)) {
          for (const name of importedNames(statement)) rememberCellSymbol(name);
        }
        continue;
      }
      if (ts.isVariableStatement(statement) && !isUsingDeclaration(statement.declarationList)) {
        for (const declaration of statement.declarationList.declarations) rememberBinding(declaration.name);
      } else if (ts.isFunctionDeclaration(statement) && statement.body) {
        rememberCellSymbol(statement.name);
      } else if (ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement) || ts.isModuleDeclaration(statement)) {
        if (statement.name && ts.isIdentifier(statement.name)) rememberCellSymbol(statement.name);
      } else if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly) {
        const clause = statement.importClause;
        rememberCellSymbol(clause?.name);
        const bindings = clause?.namedBindings;
        if (bindings && ts.isNamespaceImport(bindings)) rememberCellSymbol(bindings.name);
        if (bindings && ts.isNamedImports(bindings)) for (const spec of bindings.elements) if (!spec.isTypeOnly) rememberCellSymbol(spec.name);
      } else if (ts.isImportEqualsDeclaration(statement) && !statement.isTypeOnly) {
        rememberCellSymbol(statement.name);
      }
    }

    const rewrite = (id: ts.Identifier): ts.Expression | undefined => {
      const original = ts.getOriginalNode(id) as ts.Identifier;
      if (original.pos < 0 || !isReference(original)) return undefined;
      const symbol = symbolOf(original);
      return symbol && isNotebookSymbol(symbol) ? scopeAccess(id.text, original) : undefined;
    };

    /** A call through the scope keeps `this` undefined, as for a plain function call: `(0, S.f)()`. */
    const callee = (expression: ts.Expression): ts.Expression => {
      if (ts.isIdentifier(expression)) {
        const rewritten = rewrite(expression);
        if (rewritten) return f.createParenthesizedExpression(f.createCommaListExpression([f.createNumericLiteral(0), rewritten]));
      }
      return ts.visitNode(expression, visit, ts.isExpression) ?? expression;
    };

    const visitExpression = (node: ts.Expression): ts.Expression => ts.visitNode(node, visit, ts.isExpression) ?? node;

    const visit = (node: ts.Node): ts.VisitResult<ts.Node | undefined> => {
      if (ts.isIdentifier(node)) return rewrite(node) ?? node;
      if (ts.isHeritageClause(node)) {
        if (node.token === ts.SyntaxKind.ImplementsKeyword) return node;
        return f.updateHeritageClause(
          node,
          node.types.map((t) => f.updateExpressionWithTypeArguments(t, visitExpression(t.expression), t.typeArguments)),
        );
      }
      if (ts.isExpressionWithTypeArguments(node)) {
        return f.updateExpressionWithTypeArguments(node, visitExpression(node.expression), node.typeArguments);
      }
      if (ts.isTypeNode(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node) || ts.isTypeParameterDeclaration(node)) {
        return node;
      }
      if (ts.isShorthandPropertyAssignment(node)) {
        const symbol = checker.getShorthandAssignmentValueSymbol(ts.getOriginalNode(node));
        if (symbol && isNotebookSymbol(symbol)) {
          const target = scopeAccess(node.name.text, node.name);
          const value = node.objectAssignmentInitializer
            ? f.createAssignment(target, visitExpression(node.objectAssignmentInitializer))
            : target;
          return f.createPropertyAssignment(node.name.text, value);
        }
        return ts.visitEachChild(node, visit, context);
      }
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        // A dynamic import() in code run by vm has no loader; the kernel's resolves from the notebook folder.
        return runtimeCall("import", ts.visitNodes(node.arguments, visit, ts.isExpression).slice(0, 1));
      }
      if (ts.isCallExpression(node)) {
        return f.updateCallExpression(node, callee(node.expression), node.typeArguments, ts.visitNodes(node.arguments, visit, ts.isExpression));
      }
      if (ts.isTaggedTemplateExpression(node)) {
        return f.updateTaggedTemplateExpression(node, callee(node.tag), node.typeArguments, ts.visitNode(node.template, visit, ts.isTemplateLiteral) ?? node.template);
      }
      return ts.visitEachChild(node, visit, context);
    };

    

    /** `{ a, b: [c] }` as a binding -> the same shape as an assignment target into the scope. */
    const bindingTarget = (name: ts.BindingName): ts.Expression => {
      if (ts.isIdentifier(name)) return scopeAccess(name.text, name);
      if (ts.isObjectBindingPattern(name)) {
        return f.createObjectLiteralExpression(
          name.elements.map((element) => {
            const target = withDefault(bindingTarget(element.name), element.initializer);
            if (element.dotDotDotToken) return f.createSpreadAssignment(target);
            const key = element.propertyName ?? (element.name as ts.Identifier);
            const keyNode = ts.isComputedPropertyName(key)
              ? f.createComputedPropertyName(visitExpression(key.expression))
              : ts.isIdentifier(key)
                ? f.createIdentifier(key.text)
                : key;
            return f.createPropertyAssignment(keyNode as ts.PropertyName, target);
          }),
        );
      }
      return f.createArrayLiteralExpression(
        name.elements.map((element) => {
          if (ts.isOmittedExpression(element)) return f.createOmittedExpression();
          const target = withDefault(bindingTarget(element.name), element.initializer);
          return element.dotDotDotToken ? f.createSpreadElement(target) : target;
        }),
      );
    };
    const withDefault = (target: ts.Expression, initializer: ts.Expression | undefined): ts.Expression =>
      initializer ? f.createAssignment(target, visitExpression(initializer)) : target;

    /**
     * `const f = () => {}` names the function "f"; an assignment to the scope would not, so the
     * value goes through an object literal's property of that name (which does name it).
     */
    const named = (name: string, original: ts.Expression, value: ts.Expression): ts.Expression => {
      let inner = original;
      while (ts.isParenthesizedExpression(inner) || ts.isAsExpression(inner) || ts.isSatisfiesExpression(inner)) inner = inner.expression;
      if (inner !== original) return value;
      const anonymous = ts.isArrowFunction(inner) || ((ts.isFunctionExpression(inner) || ts.isClassExpression(inner)) && !inner.name);
      if (!anonymous) return value;
      return f.createPropertyAccessExpression(f.createObjectLiteralExpression([f.createPropertyAssignment(name, value)]), name);
    };

    const variableStatement = (statement: ts.VariableStatement): ts.Statement[] => {
      const isVar = !(statement.declarationList.flags & ts.NodeFlags.BlockScoped);
      return statement.declarationList.declarations.flatMap((declaration): ts.Statement[] => {
        const init = declaration.initializer ? visitExpression(declaration.initializer) : undefined;
        if (ts.isIdentifier(declaration.name)) {
          const target = scopeAccess(declaration.name.text, declaration.name);
          if (init) return [ts.setTextRange(assign(target, named(declaration.name.text, declaration.initializer!, init)), declaration)];
          // `var x;` keeps the value x already has, as a redeclared var does.
          if (isVar) {
            const has = f.createCallExpression(f.createPropertyAccessExpression(f.createIdentifier("Object"), "hasOwn"), undefined, [
              f.createIdentifier(SCOPE_PARAMETER),
              f.createStringLiteral(declaration.name.text),
            ]);
            return [f.createExpressionStatement(f.createLogicalOr(has, f.createAssignment(target, f.createVoidZero())))];
          }
          return [assign(target, f.createVoidZero())];
        }
        if (!init) return [];
        const pattern = f.createParenthesizedExpression(f.createAssignment(bindingTarget(declaration.name), init));
        return [ts.setTextRange(f.createExpressionStatement(pattern), declaration)];
      });
    };

    const functionDeclaration = (statement: ts.FunctionDeclaration): ts.Statement[] => {
      if (!statement.body || !statement.name) return [];
      const visited = ts.visitEachChild(statement, visit, context);
      const modifiers = ts.getModifiers(visited)?.filter((m) => m.kind === ts.SyntaxKind.AsyncKeyword);
      const expression = f.createFunctionExpression(
        modifiers,
        visited.asteriskToken,
        f.createIdentifier(statement.name.text),
        visited.typeParameters,
        visited.parameters,
        visited.type,
        visited.body!,
      );
      return [ts.setTextRange(assign(scopeAccess(statement.name.text), expression), statement)];
    };

    /** Classes, enums and namespaces are declared as written (their own name stays local inside) and then stored. */
    const storedDeclaration = (statement: ts.ClassDeclaration | ts.EnumDeclaration | ts.ModuleDeclaration): ts.Statement[] => {
      const symbol = statement.name ? checker.getSymbolAtLocation(statement.name) : undefined;
      if (symbol) ownSymbols.add(symbol);
      let visited = ts.visitEachChild(statement, visit, context) as ts.Statement;
      if (symbol) ownSymbols.delete(symbol);
      const modifiers = ts.getModifiers(visited as ts.HasModifiers)?.filter((m) => m.kind !== ts.SyntaxKind.ExportKeyword && m.kind !== ts.SyntaxKind.DefaultKeyword);
      visited = f.replaceModifiers(visited as ts.ClassDeclaration, modifiers ?? []) as unknown as ts.Statement;
      const name = statement.name;
      if (!name || !ts.isIdentifier(name) || !symbol || !(symbol.flags & ts.SymbolFlags.Value)) return [visited];
      return [visited, assign(scopeAccess(name.text), f.createIdentifier(name.text))];
    };

    const importDeclaration = (statement: ts.ImportDeclaration): ts.Statement[] => {
      const clause = statement.importClause;
      if (clause?.isTypeOnly) return [];
      const specifier = (statement.moduleSpecifier as ts.StringLiteral).text;
      const load = f.createAwaitExpression(runtimeCall("import", [f.createStringLiteral(specifier)]));
      if (!clause) return [f.createExpressionStatement(load)];
      const bindings: [string, ts.Expression][] = [];
      const moduleName = `__tsp_module_${moduleCounter++}`;
      const moduleRef = (): ts.Identifier => f.createIdentifier(moduleName);
      const isValue = (name: ts.Identifier): boolean => {
        const symbol = checker.getSymbolAtLocation(name);
        return !!symbol && isValueAlias(symbol);
      };
      if (clause.name && isValue(clause.name)) bindings.push([clause.name.text, runtimeCall("defaultExport", [moduleRef()])]);
      const named = clause.namedBindings;
      if (named && ts.isNamespaceImport(named) && isValue(named.name)) bindings.push([named.name.text, runtimeCall("namespaceExport", [moduleRef()])]);
      if (named && ts.isNamedImports(named)) {
        for (const spec of named.elements) {
          if (spec.isTypeOnly || !isValue(spec.name)) continue;
          const imported = (spec.propertyName ?? spec.name).text;
          bindings.push([spec.name.text, runtimeCall("namedExport", [moduleRef(), f.createStringLiteral(imported)])]);
        }
      }
      // Only types imported: TypeScript elides such an import, and so do we.
      if (bindings.length === 0) return [];
      const declare = f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList([f.createVariableDeclaration(moduleName, undefined, undefined, load)], ts.NodeFlags.Const),
      );
      return [ts.setTextRange(declare, statement), ...bindings.map(([local, value]) => assign(scopeAccess(local), value))];
    };

    const importEquals = (statement: ts.ImportEqualsDeclaration): ts.Statement[] => {
      if (statement.isTypeOnly) return [];
      const symbol = checker.getSymbolAtLocation(statement.name);
      if (!symbol || !isValueAlias(symbol)) return [];
      const reference = statement.moduleReference;
      const value = ts.isExternalModuleReference(reference)
        ? runtimeCall("require", [reference.expression])
        : entityValue(reference);
      return [assign(scopeAccess(statement.name.text), value)];
    };

    /** `import x = A.B`: the leftmost name may be a notebook name. */
    const entityValue = (name: ts.EntityName): ts.Expression => {
      if (ts.isIdentifier(name)) {
        const symbol = checker.getSymbolAtLocation(name);
        return symbol && isNotebookSymbol(symbol) ? scopeAccess(name.text, name) : f.createIdentifier(name.text);
      }
      return f.createPropertyAccessExpression(entityValue(name.left), name.right.text);
    };

    const hoisted: ts.Statement[] = [];
    const body: ts.Statement[] = [];
    const statements = file.statements;
    let last = statements.length - 1;
    while (last >= 0 && (ts.isExportDeclaration(statements[last]!) || ts.isEmptyStatement(statements[last]!))) last--;
    while (last >= 0 && isCarried(statements[last]!)) last--;
    statements.forEach((statement, index) => {
      if (isCarried(statement)) return;
      if (isAmbient(statement) || ts.isExportDeclaration(statement) || ts.isExportAssignment(statement)) return;
      if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) return;
      if (ts.isVariableStatement(statement) && !isUsingDeclaration(statement.declarationList)) body.push(...variableStatement(statement));
      else if (ts.isFunctionDeclaration(statement)) hoisted.push(...functionDeclaration(statement));
      else if (ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement) || ts.isModuleDeclaration(statement)) {
        body.push(...storedDeclaration(statement));
      } else if (ts.isImportDeclaration(statement)) body.push(...importDeclaration(statement));
      else if (ts.isImportEqualsDeclaration(statement)) body.push(...importEquals(statement));
      else if (index === last && ts.isExpressionStatement(statement)) {
        body.push(ts.setTextRange(f.createReturnStatement(visitExpression(statement.expression)), statement));
        shape.returnsValue = true;
      } else body.push(ts.visitNode(statement, visit, ts.isStatement) ?? statement);
    });
    return f.updateSourceFile(file, [...hoisted, ...body]);
  };
}

function importedNames(statement: ts.ImportDeclaration | ts.ImportEqualsDeclaration): ts.Identifier[] {
  if (ts.isImportEqualsDeclaration(statement)) return [statement.name];
  const clause = statement.importClause;
  const names: ts.Identifier[] = [];
  if (clause?.name) names.push(clause.name);
  const bindings = clause?.namedBindings;
  if (bindings && ts.isNamespaceImport(bindings)) names.push(bindings.name);
  if (bindings && ts.isNamedImports(bindings)) names.push(...bindings.elements.map((e) => e.name));
  return names;
}
