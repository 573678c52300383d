import vm from "node:vm";
import type { CompiledCell } from "../typescript/cell-compiler.js";
import { RUNTIME_PARAMETER, SCOPE_PARAMETER } from "../typescript/cell-transform.js";
import { KeyboardInterrupt, type Interrupts } from "./interrupts.js";
import type { ModuleLoader } from "./module-loader.js";

/** The global slot through which a cell script reaches the scope; vm scripts see only globals. */
const GLOBAL_SLOT = "__tsparallel_kernel__";

export type RunOutcome =
  | { ok: true; value: unknown; hasValue: boolean; assigned: Set<string> }
  | { ok: false; error: unknown; assigned: Set<string> };

function isSigintBreak(err: unknown): boolean {
  return (err as { code?: string })?.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
}

/**
 * Runs compiled cells over one notebook scope object. Top-level names live in that object, not in
 * globalThis, so a cell cannot clobber globals the kernel itself uses (`URL`, `process`...).
 */
export class CellRunner {
  readonly scope: Record<string, unknown> = Object.create(null) as Record<string, unknown>;

  constructor(
    private readonly loader: ModuleLoader,
    private readonly interrupts: Interrupts,
  ) {
    (globalThis as Record<string, unknown>)[GLOBAL_SLOT] = { scope: this.scope, runtime: loader };
  }

  async run(cell: CompiledCell, filename: string): Promise<RunOutcome> {
    try {
      await this.interrupts.checkpoint();
    } catch (err) {
      return { ok: false, error: err, assigned: new Set() };
    }
    const { isAsync } = cell.shape;
    const head = `(${isAsync ? "async " : ""}function (${SCOPE_PARAMETER}, ${RUNTIME_PARAMETER}) { "use strict";`;
    const source = `${head}\n${cell.js}\n})(globalThis.${GLOBAL_SLOT}.scope, globalThis.${GLOBAL_SLOT}.runtime)`;
    // Names the cell defines are taken out first, so afterwards we know which ones it really set.
    const previous = new Map<string, unknown>();
    for (const name of cell.valueNames) {
      if (Object.hasOwn(this.scope, name)) previous.set(name, this.scope[name]);
      delete this.scope[name];
    }
    const settle = (): Set<string> => {
      const assigned = new Set<string>();
      for (const name of cell.valueNames) {
        if (Object.hasOwn(this.scope, name)) assigned.add(name);
        else if (previous.has(name)) this.scope[name] = previous.get(name);
      }
      return assigned;
    };
    try {
      let value = vm.runInThisContext(source, { filename, lineOffset: -1, breakOnSigint: true }) as unknown;
      if (isAsync) value = await this.interrupts.race(value as Promise<unknown>);
      return { ok: true, value, hasValue: cell.shape.returnsValue, assigned: settle() };
    } catch (err) {
      return { ok: false, error: isSigintBreak(err) ? new KeyboardInterrupt() : err, assigned: settle() };
    }
  }

  reset(): void {
    for (const name of Object.keys(this.scope)) delete this.scope[name];
  }
}
