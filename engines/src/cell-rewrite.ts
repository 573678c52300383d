import type * as acorn from "acorn";

/** Where the engine parks its import hook: compiled cell code calls it for every import. */
export const IMPORT_HOOK = Symbol.for("tsparallel.engine.import");
const IMPORT_CALL = `globalThis[Symbol.for(${JSON.stringify(IMPORT_HOOK.description)})]`;

/** A top-level function declaration, compiled on its own so it is hoisted and holds no cell-local binding. */
export interface HoistedFunction {
  name: string;
  text: string;
  /** 1-based line and 0-based column of its first character in the cell. */
  line: number;
  column: number;
}

export interface RewrittenCell {
  /** Cell body, line for line as the user wrote it, ready to go inside the async wrapper. */
  body: string;
  functions: HoistedFunction[];
  /** The last statement is an expression whose value the cell returns. */
  hasValue: boolean;
  /** The cell awaits at top level (imports do too): it must run as an async function. */
  isAsync: boolean;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

const newlines = (text: string): number => {
  let count = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) count++;
  return count;
};

/**
 * Rewrites a cell so that it runs as the body of an async function while its top-level names live
 * on globalThis (the engine namespace), as in a REPL:
 *   const/let/var x = v          ->  ;(globalThis.x = v);        (destructuring patterns too)
 *   class A {}                   ->  ;globalThis.A = class A {};
 *   function f() {}              ->  removed here, compiled and assigned before the cell runs
 *   import x, {a as b} from "m"  ->  ;{ const m = await <import hook>("m"); globalThis.x = m.default; ... }
 *   import("m")                  ->  <import hook>("m")   (a vm script has no module loader of its own)
 *   last expression statement    ->  return (expr);
 * Every edit keeps the cell's line count, so stack traces and syntax errors name the user's lines.
 */
export function rewriteCell(code: string, program: acorn.Program): RewrittenCell {
  const edits: Edit[] = [];
  const insert = (at: number, text: string): void => void edits.push({ start: at, end: at, text });
  const replace = (start: number, end: number, text: string): void => {
    const pad = newlines(code.slice(start, end)) - newlines(text);
    edits.push({ start, end, text: text + "\n".repeat(Math.max(0, pad)) });
  };

  const rewritePattern = (pattern: acorn.Pattern): void => {
    switch (pattern.type) {
      case "Identifier":
        insert(pattern.start, "globalThis.");
        break;
      case "ObjectPattern":
        for (const property of pattern.properties) {
          if (property.type === "RestElement") rewritePattern(property.argument);
          else if (property.shorthand && property.key.type === "Identifier") insert(property.start, `${property.key.name}: globalThis.`);
          else rewritePattern(property.value as acorn.Pattern);
        }
        break;
      case "ArrayPattern":
        for (const element of pattern.elements) if (element) rewritePattern(element);
        break;
      case "AssignmentPattern":
        rewritePattern(pattern.left);
        break;
      case "RestElement":
        rewritePattern(pattern.argument);
        break;
      case "MemberExpression":
        break;
    }
  };

  const rewriteVariables = (declaration: acorn.VariableDeclaration, keywordStart: number): void => {
    const first = declaration.declarations[0]!;
    const last = declaration.declarations[declaration.declarations.length - 1]!;
    replace(keywordStart, first.start, ";(");
    for (const declarator of declaration.declarations) {
      rewritePattern(declarator.id);
      if (!declarator.init && declarator.id.type === "Identifier") {
        // `var x;` must not reset an existing x; `let x;` starts undefined.
        insert(declarator.id.end, declaration.kind === "var" ? ` = globalThis.${declarator.id.name}` : " = undefined");
      }
    }
    insert(last.end, ")");
  };

  const hoisted: acorn.FunctionDeclaration[] = [];
  const hoistFunction = (fn: acorn.FunctionDeclaration, removeFrom: number): void => {
    hoisted.push(fn);
    replace(removeFrom, fn.end, "");
  };

  const rewriteImport = (declaration: acorn.ImportDeclaration): void => {
    const call = `await ${IMPORT_CALL}(${JSON.stringify(declaration.source.value)}${importOptions(code, declaration.attributes)})`;
    const namespace = declaration.specifiers.find((s) => s.type === "ImportNamespaceSpecifier");
    let text: string;
    if (declaration.specifiers.length === 0) text = `;${call};`;
    else if (namespace && declaration.specifiers.length === 1) text = `;globalThis.${namespace.local.name} = ${call};`;
    else {
      const assignments = declaration.specifiers.map((specifier) => {
        if (specifier.type === "ImportNamespaceSpecifier") return `globalThis.${specifier.local.name} = m;`;
        if (specifier.type === "ImportDefaultSpecifier") return `globalThis.${specifier.local.name} = m.default;`;
        const imported = specifier.imported.type === "Identifier" ? specifier.imported.name : String(specifier.imported.value);
        return `globalThis.${specifier.local.name} = m[${JSON.stringify(imported)}];`;
      });
      text = `;{ const m = ${call}; ${assignments.join(" ")} }`;
    }
    replace(declaration.start, declaration.end, text);
  };

  const rewriteDeclaration = (statement: acorn.Statement | acorn.ModuleDeclaration, start: number): void => {
    switch (statement.type) {
      case "VariableDeclaration":
        rewriteVariables(statement, start);
        break;
      case "FunctionDeclaration":
        hoistFunction(statement, start);
        break;
      case "ClassDeclaration":
        replace(start, statement.start, "");
        insert(statement.start, `;globalThis.${statement.id.name} = `);
        insert(statement.end, ";");
        break;
    }
  };

  const body = program.body;
  body.forEach((statement, index) => {
    switch (statement.type) {
      case "VariableDeclaration":
      case "FunctionDeclaration":
      case "ClassDeclaration":
        rewriteDeclaration(statement, statement.start);
        break;
      case "ImportDeclaration":
        rewriteImport(statement);
        break;
      case "ExportNamedDeclaration":
        // A cell is not a module: `export` is dropped and the declaration kept.
        if (statement.declaration) rewriteDeclaration(statement.declaration, statement.start);
        else replace(statement.start, statement.end, "");
        break;
      case "ExportDefaultDeclaration":
      case "ExportAllDeclaration":
        replace(statement.start, statement.end, "");
        break;
      case "ExpressionStatement":
        // A lone 'string' statement counts too, though a parser calls it a directive.
        if (index === body.length - 1) {
          // From the statement's start: the expression node starts inside any parentheses around it.
          const semicolon = code[statement.end - 1] === ";" ? statement.end - 1 : statement.end;
          insert(statement.start, "return (");
          replace(semicolon, statement.end, ");");
        }
        break;
    }
  });

  const importsIn = new Map<acorn.FunctionDeclaration | null, Edit[]>();
  const scan = scanTree(program);
  scan.dynamicImports.forEach((node) => {
    const owner = hoisted.find((fn) => fn.start <= node.start && node.end <= fn.end) ?? null;
    const list = importsIn.get(owner) ?? [];
    list.push({ start: node.start, end: node.start + "import".length, text: IMPORT_CALL });
    importsIn.set(owner, list);
  });
  edits.push(...(importsIn.get(null) ?? []));
  const functions = hoisted.map((fn): HoistedFunction => {
    const shifted = (importsIn.get(fn) ?? []).map((e) => ({ start: e.start - fn.start, end: e.end - fn.start, text: e.text }));
    const before = code.slice(0, fn.start);
    return {
      name: fn.id.name,
      text: applyEdits(code.slice(fn.start, fn.end), shifted),
      line: newlines(before) + 1,
      column: fn.start - (before.lastIndexOf("\n") + 1),
    };
  });
  const last = body[body.length - 1];
  return {
    body: applyEdits(code, edits),
    functions,
    hasValue: last?.type === "ExpressionStatement",
    isAsync: scan.awaits || body.some((statement) => statement.type === "ImportDeclaration"),
  };
}

function importOptions(code: string, attributes: acorn.ImportAttribute[] | undefined): string {
  if (!attributes?.length) return "";
  const entries = attributes.map((a) => `${code.slice(a.key.start, a.key.end)}: ${code.slice(a.value.start, a.value.end)}`);
  return `, { with: { ${entries.join(", ")} } }`;
}

const FUNCTION_NODES = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"]);

/** Every `import(...)` in the tree, and whether the cell itself (outside any function) awaits. */
function scanTree(program: acorn.Program): { dynamicImports: acorn.ImportExpression[]; awaits: boolean } {
  const dynamicImports: acorn.ImportExpression[] = [];
  let awaits = false;
  const visit = (node: unknown, inFunction: boolean): void => {
    if (node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const child of node) visit(child, inFunction);
      return;
    }
    const record = node as Record<string, unknown>;
    const type = record.type;
    if (type === "ImportExpression") dynamicImports.push(node as acorn.ImportExpression);
    if (!inFunction && (type === "AwaitExpression" || (type === "ForOfStatement" && record.await === true))) awaits = true;
    if (!inFunction && type === "VariableDeclaration" && record.kind === "await using") awaits = true;
    const inside = inFunction || FUNCTION_NODES.has(type as string);
    for (const key in record) {
      if (key === "loc" || key === "type") continue;
      const value = record[key];
      if (value !== null && typeof value === "object") visit(value, inside);
    }
  };
  visit(program, false);
  return { dynamicImports, awaits };
}

function applyEdits(code: string, edits: Edit[]): string {
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  let out = "";
  let at = 0;
  for (const edit of edits) {
    if (edit.start < at) throw new Error(`internal error: overlapping cell edits at ${edit.start}`);
    out += code.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return out + code.slice(at);
}
