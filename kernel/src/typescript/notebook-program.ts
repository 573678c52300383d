import ts = require("typescript");
import { statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cellCompilerOptions } from "./compiler-options.js";
import { deferredNodeTypeFiles } from "./deferred-node-types.js";
import { KERNEL_GLOBALS_DTS } from "./kernel-globals.js";
import { ScopeDeclarations, type VirtualFile } from "./scope-declarations.js";


function modifiedTime(fileName: string): number {
  try {
    return statSync(fileName).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Doc comments are not parsed: they are most of @types/node's text, and parsing them was a sixth
 * of a kernel's start and of its memory. ParseForTypeInfo, not ParseForTypeErrors: the latter still
 * parses every comment holding `@see` or `{@link}` (for unused-import checks cells do not make),
 * and @types/node has them nearly everywhere. Inspect reads docs on request (documentation.ts).
 */
const JSDOC_PARSING = ts.JSDocParsingMode.ParseForTypeInfo;

/** Modules the kernel itself provides are resolved from the kernel's folder, so a notebook always gets the kernel's copy. */
const KERNEL_PROVIDED = /^tsparallel(\/|$)/;
const kernelDir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** A declaration file of an installed package (@types/node, undici-types...). */
const PACKAGE_DECLARATIONS = /\/node_modules\/.*\.d\.[cm]?ts$/;
/**
 * Installed declaration files (@types/node's own ambient modules most of all) import Node's modules
 * by builtin name ("node:fs", "buffer"...). The checker looks such a name up among @types/node's
 * ambient modules before any file a resolution found, so resolving them only walked node_modules
 * folders in vain and added packages that happen to share a builtin's name (the npm `buffer`) to
 * no effect. A cell's own imports are still resolved as before.
 */
const UNRESOLVED: ts.ResolvedModuleWithFailedLookupLocations = { resolvedModule: undefined };
/** What a deferred @types/node file holds until completeNodeTypes(). */
const EMPTY = ts.ScriptSnapshot.fromString("");

/**
 * The TypeScript program cells are checked in: one virtual cell file (its text changes per
 * request), the kernel's globals, and the scope declarations of earlier cells, all held in
 * memory and served to a language service, which reuses every unchanged file between cells.
 */
export class NotebookProgram {
  readonly cellFile: string;
  readonly scope: ScopeDeclarations;
  readonly options: ts.CompilerOptions;
  readonly #globalsFile: string;
  readonly #service: ts.LanguageService;
  readonly #resolutionCache: ts.ModuleResolutionCache;
  readonly #kernelAnchor = join(kernelDir, "src", "__notebook__.ts");
  readonly #snapshots = new Map<string, ts.IScriptSnapshot>();
  #cell: VirtualFile = { text: "", version: 0 };
  #projectVersion = 0;
  /**
   * @types/node files left empty (deferred-node-types.ts) until completeNodeTypes(): the warm-up
   * parses them after the first cell, or at once for a cell that needs them.
   */
  #deferred: ReadonlySet<string>;
  /** The files of the first (partial) program: a cell bringing in others is checked against the whole. */
  #partialFiles: Set<string> | null = null;

  /**
   * Installed packages, TypeScript's libraries and anything outside the notebook's folder (the
   * kernel's own packages) do not change while a kernel runs, so they are read once; the user's
   * files in the notebook folder may change between cells.
   */
  #isStable = (fileName: string): boolean => fileName.includes("/node_modules/") || !fileName.startsWith(this.cwd + "/");

  constructor(readonly cwd: string) {
    this.cellFile = join(cwd, "__tsp_cell__.ts");
    this.#globalsFile = join(cwd, "__tsp_kernel_globals__.d.ts");
    this.scope = new ScopeDeclarations(cwd);
    this.options = cellCompilerOptions(cwd);
    // Only the kernel's own @types/node, the one the list was checked against (a notebook folder's own copy is parsed whole).
    const roots = this.options.typeRoots ?? [];
    this.#deferred = roots.length === 1 ? deferredNodeTypeFiles(join(roots[0]!, "node")) : new Set();
    this.#resolutionCache = ts.createModuleResolutionCache(cwd, (f) => f, this.options);
    this.#service = ts.createLanguageService(this.#host(), ts.createDocumentRegistry(ts.sys.useCaseSensitiveFileNames, cwd, JSDOC_PARSING));
  }

  get service(): ts.LanguageService {
    return this.#service;
  }

  /** Sets the text of the cell file; the next program query sees it. */
  setCell(text: string): void {
    if (text === this.#cell.text) return;
    this.#cell = { text, version: this.#cell.version + 1 };
    this.#projectVersion++;
  }

  /** Called after the scope changed (the scope's own version is folded into the project version). */
  program(): ts.Program {
    const program = this.#service.getProgram();
    if (!program) throw new Error("the TypeScript language service has no program");
    if (this.partial && !this.#partialFiles) this.#partialFiles = new Set(program.getSourceFiles().map((f) => f.fileName));
    return program;
  }

  /** Whether some of @types/node is still left out (see #deferred). */
  get partial(): boolean {
    return this.#deferred.size > 0;
  }

  /** From now on every file of @types/node is in the program (parsed on the next program query). */
  completeNodeTypes(): void {
    if (!this.partial) return;
    this.#deferred = new Set();
    this.#partialFiles = null;
    this.#projectVersion++;
  }

  /**
   * Whether the partial program holds only what the first one held, besides the cell and the
   * scope: then no file but the cell could reach a deferred module, and the cell itself only by
   * an import the partial program reports as missing.
   */
  holdsOnlyPartialFiles(program: ts.Program): boolean {
    const known = this.#partialFiles;
    if (!known) return false;
    return program.getSourceFiles().every((f) => known.has(f.fileName) || f.fileName === this.cellFile || this.scope.isScopeFile(f.fileName));
  }

  isScopeFile = (fileName: string): boolean => this.scope.isScopeFile(fileName);

  #virtual(fileName: string): VirtualFile | undefined {
    if (fileName === this.cellFile) return this.#cell;
    if (fileName === this.#globalsFile) return { text: KERNEL_GLOBALS_DTS, version: 1 };
    return this.scope.files.get(fileName);
  }

  #resolve(name: string, containingFile: string, host: ts.ModuleResolutionHost): ts.ResolvedModuleWithFailedLookupLocations {
    if (isBuiltin(name) && PACKAGE_DECLARATIONS.test(containingFile)) return UNRESOLVED;
    if (KERNEL_PROVIDED.test(name)) return ts.resolveModuleName(name, this.#kernelAnchor, this.options, host, this.#resolutionCache);
    const found = ts.resolveModuleName(name, containingFile, this.options, host, this.#resolutionCache);
    if (found.resolvedModule) return found;
    // Packages the kernel depends on (typescript, zeromq, @types/node...) are importable from any notebook folder.
    return ts.resolveModuleName(name, this.#kernelAnchor, this.options, host, this.#resolutionCache);
  }

  /** (getModuleResolutionCache is read from language service hosts too, though only CompilerHost declares it.) */
  #host(): ts.LanguageServiceHost & Pick<ts.CompilerHost, "getModuleResolutionCache"> {
    const readFile = (fileName: string): string | undefined => this.#virtual(fileName)?.text ?? ts.sys.readFile(fileName);
    const fileExists = (fileName: string): boolean => this.#virtual(fileName) !== undefined || ts.sys.fileExists(fileName);
    const moduleHost: ts.ModuleResolutionHost = {
      fileExists,
      readFile,
      directoryExists: ts.sys.directoryExists,
      realpath: ts.sys.realpath,
      getDirectories: ts.sys.getDirectories,
    };
    let scopeVersion = this.scope.version;
    return {
      getProjectVersion: () => {
        if (this.scope.version !== scopeVersion) {
          scopeVersion = this.scope.version;
          this.#projectVersion++;
        }
        return String(this.#projectVersion);
      },
      getScriptFileNames: () => [this.#globalsFile, ...this.scope.files.keys(), this.cellFile],
      getScriptVersion: (fileName) => {
        if (this.#deferred.has(fileName)) return "deferred";
        const file = this.#virtual(fileName);
        if (file) return String(file.version);
        return this.#isStable(fileName) ? "0" : String(modifiedTime(fileName));
      },
      getScriptSnapshot: (fileName) => {
        if (this.#deferred.has(fileName)) return EMPTY;
        const file = this.#virtual(fileName);
        if (file) return ts.ScriptSnapshot.fromString(file.text);
        if (!this.#isStable(fileName)) {
          const text = ts.sys.readFile(fileName);
          return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
        }
        // Libraries and installed packages are read once per kernel.
        let snapshot = this.#snapshots.get(fileName);
        if (!snapshot) {
          const text = ts.sys.readFile(fileName);
          if (text === undefined) return undefined;
          snapshot = ts.ScriptSnapshot.fromString(text);
          this.#snapshots.set(fileName, snapshot);
        }
        return snapshot;
      },
      getCurrentDirectory: () => this.cwd,
      jsDocParsingMode: JSDOC_PARSING,
      getCompilationSettings: () => this.options,
      getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
      fileExists,
      readFile,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
      readDirectory: ts.sys.readDirectory,
      realpath: ts.sys.realpath,
      useCaseSensitiveFileNames: () => ts.sys.useCaseSensitiveFileNames,
      // Shared with our resolver, so package.json files are read once, not once per file and program.
      getModuleResolutionCache: () => this.#resolutionCache,
      resolveModuleNameLiterals: (literals, containingFile) => literals.map((literal) => this.#resolve(literal.text, containingFile, moduleHost)),
    };
  }
}
