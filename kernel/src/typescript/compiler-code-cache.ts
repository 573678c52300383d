import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import vm from "node:vm";

const require = createRequire(import.meta.url);

/** The parts of CommonJS's Module the loader needs and @types/node leaves out. */
type CjsModule = InstanceType<typeof Module> & { filename: string; paths: string[]; loaded: boolean };
const ModuleInternals = Module as unknown as { _nodeModulePaths(dir: string): string[]; wrap(source: string): string };

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tsparallel");
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Loads the TypeScript compiler (9 MB of JavaScript) with V8's code cache: compiling it is a good
 * part of a kernel's start, and the bytecode of what the kernel's warm-up ran is kept on disk
 * (`~/.cache/tsparallel/`, one file per TypeScript and Node version), so the next kernel skips
 * it. The module lands in require's cache under its own path, so `require("typescript")`
 * anywhere in the kernel gets this copy. A missing, stale or unwritable cache only costs time:
 * V8 checks the cached data against the source and the flags and rejects what does not match.
 */
export class CompilerCodeCache {
  #script: vm.Script | null = null;
  #needsWrite = false;
  /** How the last load went, for the kernel's log. */
  outcome: "not loaded" | "from the code cache" | "compiled (no code cache yet)" | "compiled (code cache rejected)" | "already loaded" = "not loaded";
  readonly #file: string;
  readonly #filename: string;

  constructor() {
    this.#filename = require.resolve("typescript");
    const version = (require("typescript/package.json") as { version: string }).version;
    this.#file = join(cacheDir(), `typescript-${version}-node-${process.version}-${process.arch}.v8cache`);
  }

  /** Loads TypeScript through the cache unless something already required it. */
  load(): void {
    const filename = this.#filename;
    if (require.cache[filename]) {
      this.outcome = "already loaded";
      return;
    }
    const cachedData = readIfPresent(this.#file);
    let source: string;
    try {
      source = readFileSync(filename, "utf8");
    } catch {
      return; // require() below reports it properly.
    }
    const script = new vm.Script(ModuleInternals.wrap(source), { filename, cachedData });
    this.#script = script;
    this.#needsWrite = cachedData === undefined || script.cachedDataRejected === true;
    this.outcome = cachedData === undefined ? "compiled (no code cache yet)" : script.cachedDataRejected ? "compiled (code cache rejected)" : "from the code cache";
    const mod = new Module(filename) as CjsModule;
    mod.filename = filename;
    mod.paths = ModuleInternals._nodeModulePaths(dirname(filename));
    require.cache[filename] = mod;
    try {
      const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
      wrapper.call(mod.exports, mod.exports, createRequire(filename), mod, filename, dirname(filename));
      mod.loaded = true;
    } catch (err) {
      delete require.cache[filename];
      this.#script = null;
      throw err;
    }
  }

  /**
   * Writes the cache once the warm-up ran (so it holds the bytecode of the functions the warm-up
   * compiled), when there was none or V8 rejected it. Written whole under a temporary name, then
   * renamed, so a kernel starting meanwhile never reads half a file.
   */
  get file(): string {
    return this.#file;
  }

  /** Returns whether it wrote the file. */
  save(): boolean {
    const script = this.#script;
    if (!script || !this.#needsWrite) return false;
    this.#needsWrite = false;
    try {
      const data = script.createCachedData();
      mkdirSync(dirname(this.#file), { recursive: true });
      const temporary = `${this.#file}.${process.pid}.tmp`;
      writeFileSync(temporary, data);
      renameSync(temporary, this.#file);
      return true;
    } catch {
      // A read-only home: the next kernel compiles TypeScript again, nothing worse.
      return false;
    }
  }
}
