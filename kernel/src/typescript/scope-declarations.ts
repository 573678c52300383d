import ts = require("typescript");
import { join } from "node:path";

/** A virtual file of the type-check program. */
export interface VirtualFile {
  text: string;
  version: number;
}

const printer = ts.createPrinter({ removeComments: false, newLine: ts.NewLineKind.LineFeed });
const STRIPPED_MODIFIERS = new Set([ts.SyntaxKind.DeclareKeyword, ts.SyntaxKind.ExportKeyword, ts.SyntaxKind.DefaultKeyword]);

/** What one cell contributed: the imports its declarations use, and its declarations by name. */
interface Unit {
  id: number;
  imports: string[];
  declarations: Map<string, string[]>;
  /** Statements that are not per name, such as the cell's own `declare global` blocks. */
  extra: string[];
}

function withoutAmbientModifiers<T extends ts.Node>(node: T): T {
  if (!ts.canHaveModifiers(node)) return node;
  const modifiers = ts.getModifiers(node)?.filter((m) => !STRIPPED_MODIFIERS.has(m.kind));
  return ts.factory.replaceModifiers(node, modifiers ?? []) as unknown as T;
}

function print(node: ts.Node, file: ts.SourceFile): string {
  return printer.printNode(ts.EmitHint.Unspecified, node, file);
}

function variableKeyword(list: ts.VariableDeclarationList): string {
  if (list.flags & ts.NodeFlags.Const) return "const";
  if (list.flags & ts.NodeFlags.Let) return "let";
  return "var";
}

/**
 * The declarations every later cell sees: each cell's emitted `.d.ts`, turned into a module that
 * augments the global scope. A global (rather than an import from the previous cell) lets a
 * later cell assign a `let` from an earlier one, shadow any name with its own declaration, and
 * keeps `const` read-only. A name declared again moves to the newest cell's file; a file whose
 * names are all shadowed is dropped, so the program does not grow with the number of cells.
 */
export class ScopeDeclarations {
  readonly #units = new Map<number, Unit>();
  /** Which unit declares each name; -1 for a name that is an import (see #imports). */
  readonly #owner = new Map<string, number>();
  /** Imports of earlier cells, one statement per imported name. */
  readonly #imports = new Map<string, string>();
  readonly #files = new Map<string, VirtualFile>();
  #nextUnit = 0;
  #version = 0;

  constructor(private readonly dir: string) {}

  /** Bumped on every change, so a compiled cell can tell whether the scope it was checked against still holds. */
  get version(): number {
    return this.#version;
  }

  get files(): ReadonlyMap<string, VirtualFile> {
    return this.#files;
  }

  isScopeFile(fileName: string): boolean {
    return this.#files.has(fileName);
  }

  has(name: string): boolean {
    return this.#owner.has(name);
  }

  /** The import statement that brought `name` into the notebook, if an import did. */
  importStatement(name: string): string | undefined {
    return this.#imports.get(name);
  }

  names(): string[] {
    return [...this.#owner.keys()];
  }

  /**
   * Takes what a cell declared: its emitted `.d.ts` and its imports (name -> one import statement).
   * Only `names` (what the cell really defined) are committed.
   */
  commit(dts: string, names: ReadonlySet<string>, imports: ReadonlyMap<string, string> = new Map()): void {
    if (names.size === 0) return;
    const unit = this.#parseUnit(dts, names);
    const touched = new Set<number>([unit.id]);
    const claim = (name: string, owner: number) => {
      const previous = this.#owner.get(name);
      if (previous !== undefined && previous >= 0 && previous !== owner) {
        this.#units.get(previous)?.declarations.delete(name);
        touched.add(previous);
      }
      if (owner >= 0) this.#imports.delete(name);
      this.#owner.set(name, owner);
    };
    for (const [name, statement] of imports) {
      if (!names.has(name)) continue;
      unit.declarations.delete(name);
      claim(name, -1);
      this.#imports.set(name, statement);
    }
    for (const name of unit.declarations.keys()) claim(name, unit.id);
    this.#units.set(unit.id, unit);
    for (const id of touched) this.#render(id);
    this.#version++;
  }

  /**
   * Import statements for the names earlier cells imported, to append to a cell (imports are
   * hoisted, so they go after the user's code and leave its positions alone). Names the cell
   * declares itself are left out: its own declaration wins.
   */
  carriedImports(except: ReadonlySet<string>): string {
    let text = "";
    for (const [name, statement] of this.#imports) if (!except.has(name)) text += `\n${statement}`;
    return text;
  }

  /** Forgets every declaration (a kernel reset). */
  clear(): void {
    this.#imports.clear();
    this.#units.clear();
    this.#owner.clear();
    this.#files.clear();
    this.#version++;
  }

  #fileName(id: number): string {
    return join(this.dir, `__tsp_scope_${id}.d.ts`);
  }

  #render(id: number): void {
    const unit = this.#units.get(id);
    const fileName = this.#fileName(id);
    if (!unit || (unit.declarations.size === 0 && unit.extra.length === 0)) {
      this.#units.delete(id);
      this.#files.delete(fileName);
      return;
    }
    const body = [...unit.declarations.values()].flat().map((text) => indent(text)).join("\n");
    const text = [...unit.imports, ...unit.extra, "declare global {", body, "}", "export {};", ""].join("\n");
    const previous = this.#files.get(fileName);
    this.#files.set(fileName, { text, version: (previous?.version ?? 0) + 1 });
  }

  #parseUnit(dts: string, names: ReadonlySet<string>): Unit {
    const id = this.#nextUnit++;
    const file = ts.createSourceFile(`unit${id}.d.ts`, dts, ts.ScriptTarget.ES2022, true);
    const unit: Unit = { id, imports: [], declarations: new Map(), extra: [] };
    const add = (name: string, text: string): void => {
      if (!names.has(name)) return;
      const list = unit.declarations.get(name) ?? [];
      list.push(text);
      unit.declarations.set(name, list);
    };
    for (const statement of file.statements) {
      if (ts.isImportDeclaration(statement) || ts.isImportEqualsDeclaration(statement)) {
        // Imports stay at file level: declarations below still name what they import even after a
        // later cell reuses the name. The imported names themselves are carried by carriedImports().
        unit.imports.push(print(statement, file));
      } else if (ts.isExportDeclaration(statement) || ts.isExportAssignment(statement)) {
        continue;
      } else if (ts.isVariableStatement(statement)) {
        const keyword = variableKeyword(statement.declarationList);
        for (const declaration of statement.declarationList.declarations) {
          if (ts.isIdentifier(declaration.name)) add(declaration.name.text, `${keyword} ${print(declaration, file)};`);
        }
      } else if (ts.isModuleDeclaration(statement) && !ts.isIdentifier(statement.name)) {
        unit.extra.push(print(statement, file));
      } else if (ts.isModuleDeclaration(statement) && statement.flags & ts.NodeFlags.GlobalAugmentation) {
        unit.extra.push(print(statement, file));
      } else if (
        ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement) ||
        ts.isModuleDeclaration(statement)
      ) {
        const name = statement.name;
        if (name && ts.isIdentifier(name)) add(name.text, print(withoutAmbientModifiers(statement), file));
      }
    }
    return unit;
  }
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}
