import type { Interrupts } from "../runtime/interrupts.js";
import type { TypeScriptCells } from "./typescript-cells.js";

/** Gives the TypeScript side of the kernel, loading it on first need. */
export type CellsProvider = () => Promise<TypeScriptCells>;

/**
 * Loads the TypeScript compiler and builds the notebook's program once. The kernel answers
 * kernel_info before this (importing and warming up TypeScript takes a second or more), then
 * starts it; a cell that arrives earlier simply waits for it.
 */
export class LazyCells {
  #loading: Promise<TypeScriptCells> | null = null;

  constructor(
    private readonly cwd: string,
    private readonly interrupts: Interrupts,
  ) {}

  get started(): boolean {
    return this.#loading !== null;
  }

  get = (): Promise<TypeScriptCells> => {
    this.#loading ??= import("./typescript-cells.js").then(({ TypeScriptCells }) => {
      const cells = new TypeScriptCells(this.cwd, this.interrupts);
      cells.warmUp();
      return cells;
    });
    return this.#loading;
  };
}
