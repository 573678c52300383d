import type { Logger } from "@tsparallel/protocol";
import type { Interrupts } from "../runtime/interrupts.js";
import { CompilerCodeCache } from "../typescript/compiler-code-cache.js";
import type { TypeScriptCells } from "./typescript-cells.js";

/** Gives the TypeScript side of the kernel, loading it on first need. */
export type CellsProvider = () => Promise<TypeScriptCells>;

/** Long enough for requests that came during a step (kernel_info) to be read, answered and sent. */
const BETWEEN_STEPS_MS = 15;
/** The compiler's code cache is written a little after the warm-up, out of the first cell's way. */
const SAVE_CODE_CACHE_AFTER_MS = 2000;
/** The rest of @types/node is parsed once the kernel is idle this long after the warm-up (a first cell sent at once comes first). */
const COMPLETE_WHEN_IDLE_MS = 100;

/**
 * Loads the TypeScript compiler and builds the notebook's program once. The kernel starts this
 * right after it binds its sockets, in three blocking steps with pauses between them (loading
 * TypeScript through V8's code cache, parsing the libraries, creating the type checker), so a
 * kernel_info request waits at most one step; a cell that arrives earlier simply waits for the whole.
 * The libraries leave out the quarter of @types/node a first cell rarely needs (NotebookProgram);
 * a fourth step parses it once the kernel is idle, after the first cell if one was waiting.
 */
export class LazyCells {
  #loading: Promise<TypeScriptCells> | null = null;
  /**
   * A request waits for the cells: the shell queue serves one request at a time, so nothing could
   * be answered in a pause between steps (kernel_info on control has its own thread); go straight on.
   */
  #awaited = false;
  /** Ends the pause under way, for a request that came in it. */
  #endPause: (() => void) | null = null;

  constructor(
    private readonly cwd: string,
    private readonly interrupts: Interrupts,
    private readonly log?: Logger,
    /** Whether the kernel is serving a request (the fourth step waits until it is not). */
    private readonly isBusy: () => boolean = () => false,
  ) {}

  get started(): boolean {
    return this.#loading !== null;
  }

  get = (): Promise<TypeScriptCells> => {
    this.#awaited = true;
    this.#endPause?.();
    return this.warmUp();
  };

  /** Starts loading, as get() does, but nothing waits for it yet: the steps pause for requests. */
  warmUp(): Promise<TypeScriptCells> {
    this.#loading ??= this.#load();
    return this.#loading;
  }

  #pause(): Promise<void> {
    if (this.#awaited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#endPause?.(), BETWEEN_STEPS_MS);
      this.#endPause = () => {
        clearTimeout(timer);
        this.#endPause = null;
        resolve();
      };
    });
  }

  async #load(): Promise<TypeScriptCells> {
    let started = performance.now();
    const took = (step: string): void => {
      const now = performance.now();
      this.log?.info(`warm-up: ${step} in ${Math.round(now - started)} ms`);
      started = now;
    };
    const codeCache = new CompilerCodeCache();
    codeCache.load();
    const { TypeScriptCells } = await import("./typescript-cells.js");
    took(`TypeScript loaded ${codeCache.outcome}`);
    await this.#pause();
    started = performance.now();
    const cells = new TypeScriptCells(this.cwd, this.interrupts);
    cells.parseLibraries();
    took("libraries parsed");
    // A cell already waiting builds the checker itself; compiling an empty cell first would only delay it.
    if (!this.#awaited) {
      await this.#pause();
      started = performance.now();
      cells.warmUp();
      took("type checker ready");
    }
    this.#completeWhenIdle(cells);
    setTimeout(() => {
      if (codeCache.save()) this.log?.info(`warm-up: wrote the code cache ${codeCache.file}`);
    }, SAVE_CODE_CACHE_AFTER_MS).unref();
    return cells;
  }

  #completeWhenIdle(cells: TypeScriptCells): void {
    setTimeout(() => {
      if (this.isBusy()) return this.#completeWhenIdle(cells);
      const started = performance.now();
      if (cells.completeNodeTypes()) this.log?.info(`warm-up: rest of @types/node parsed in ${Math.round(performance.now() - started)} ms`);
    }, COMPLETE_WHEN_IDLE_MS).unref();
  }
}
