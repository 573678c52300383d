import type { AsyncResult, Client } from "tsparallel";
import type { CellOutcome } from "../execution/outcome.js";
import type { CellsProvider } from "../execution/lazy-cells.js";
import type { IOPub } from "../output/iopub.js";
import { MIME_BUNDLE } from "../output/repr.js";
import { KeyboardInterrupt, type Interrupts } from "../runtime/interrupts.js";
import { parseFlags } from "./arguments.js";
import type { ClusterHolder } from "./cluster-holder.js";
import { OutputPrinter } from "./output-printer.js";
import { parallelError } from "./parallel-errors.js";
import { waitWithProgress } from "./progress.js";
import { EXECUTION_FLAGS, OUTPUT_FLAGS, defaultPxOptions, type PxOptions } from "./px-options.js";
import { describeTargets, resolveTargets } from "./targets.js";
import { UsageError } from "./usage-error.js";

export const NO_CLIENT =
  "no active tsparallel client: connect one in a cell (`const rc = await Client.connect()`, or `rc.activate()`), " +
  "or start a cluster with `%tspcluster start -n 4`";
export const NO_LAST_RESULT = "%pxresult recalls last %px result, which has not yet been used.";

export interface MagicEnvironment {
  iopub: IOPub;
  cells: CellsProvider;
  interrupts: Interrupts;
  clusters: ClusterHolder;
  /** Runs TypeScript in the notebook itself (for --local). */
  runLocal(code: string): Promise<CellOutcome>;
}

/** How a pending AsyncResult shows as a cell's value, as ipyparallel's repr. */
function pendingResult(ar: AsyncResult<unknown>): object {
  return { [MIME_BUNDLE]: () => ({ "text/plain": `<AsyncResult(%px): ${ar.ready() ? "finished" : "pending"}>` }) };
}

/** ipyparallel's parallel magics over the active client: %px, %%px, %pxresult, %pxconfig, %autopx. */
export class ParallelMagics {
  readonly defaults: PxOptions = defaultPxOptions();
  #lastResult: AsyncResult<unknown> | null = null;
  #autopx = false;

  constructor(private readonly env: MagicEnvironment) {}

  get autopx(): boolean {
    return this.#autopx;
  }

  /** `%px code`: the line runs with the defaults. */
  linePx(code: string): Promise<CellOutcome> {
    return this.execute(code, {});
  }

  /** `%%px [flags]` over the cell body. */
  cellPx(flags: string, body: string): Promise<CellOutcome> {
    const { options, positional } = parseFlags<PxOptions>(flags, [...EXECUTION_FLAGS, ...OUTPUT_FLAGS], "%px");
    if (positional.length) throw new UsageError(`%%px: unexpected argument ${positional.join(" ")}; the code goes on the following lines`);
    return this.execute(body, options);
  }

  pxconfig(line: string): CellOutcome {
    const { options, positional } = parseFlags<PxOptions>(line, [...EXECUTION_FLAGS, ...OUTPUT_FLAGS.filter((f) => f.key === "groupOutputs")], "pxconfig");
    if (positional.length) throw new UsageError(`%pxconfig: unexpected argument ${positional.join(" ")}`);
    if (options.local !== undefined) throw new UsageError("%pxconfig: --local applies to one %%px cell only");
    Object.assign(this.defaults, options);
    return { status: "ok", hasValue: false };
  }

  async pxresult(line: string): Promise<CellOutcome> {
    const { options } = parseFlags<PxOptions>(line, OUTPUT_FLAGS, "pxresult");
    const ar = this.#lastResult;
    if (!ar) throw new UsageError(NO_LAST_RESULT);
    await this.env.interrupts.race(ar.wait());
    new OutputPrinter(this.env.iopub).outputs(ar, options.groupOutputs ?? this.defaults.groupOutputs);
    const error = parallelError(ar);
    return error ? { status: "error", error } : { status: "ok", hasValue: false };
  }

  toggleAutopx(): CellOutcome {
    this.#autopx = !this.#autopx;
    this.env.iopub.stream("stdout", `%autopx ${this.#autopx ? "enabled" : "disabled"}\n`);
    return { status: "ok", hasValue: false };
  }

  async execute(code: string, flags: Partial<PxOptions>): Promise<CellOutcome> {
    const options: PxOptions = { ...this.defaults, local: false, saveName: "", ...flags };
    const client = this.env.clusters.activeClient();
    if (!client) throw new UsageError(NO_CLIENT);
    await this.env.cells();
    const { syntaxError } = await import("../typescript/syntax-check.js");
    const invalid = syntaxError(code);
    if (invalid) return { status: "error", error: invalid };
    const resolved = resolveTargets(options.targets, client.ids);
    const view = client.directView(resolved);
    const targets = view.targets;
    if (options.verbose) {
      this.env.iopub.stream("stdout", `${options.block ? "Parallel" : "Async parallel"} execution on engine(s): ${describeTargets(options.targets, targets)}\n`);
    }
    const ar = view.execute(code) as AsyncResult<unknown>;
    this.#lastResult = ar;
    if (options.saveName) await this.#save(options.saveName, ar);
    const local = options.local ? await this.env.runLocal(code) : null;
    if (!options.block) {
      if (local && local.status === "error") return local;
      return { status: "ok", hasValue: true, value: pendingResult(ar) };
    }
    const outcome = await this.#waitAndShow(client, targets, ar, options);
    if (outcome.status === "error" || !local) return outcome;
    return local;
  }

  async #waitAndShow(client: Client, targets: number[], ar: AsyncResult<unknown>, options: PxOptions): Promise<CellOutcome> {
    const printer = new OutputPrinter(this.env.iopub);
    const unsubscribe = options.stream ? ar.onOutput((event) => printer.live(event.msgId, event.name, event.text, event.engineId, event.data)) : null;
    try {
      await this.env.interrupts.race(waitWithProgress(this.env.iopub, ar, options.progressAfter));
    } catch (err) {
      if (!(err instanceof KeyboardInterrupt)) throw err;
      // Interrupting the notebook interrupts the engines' work too.
      await client.interrupt(targets).catch(() => undefined);
      throw err;
    } finally {
      unsubscribe?.();
    }
    printer.outputs(ar, options.groupOutputs);
    const error = parallelError(ar);
    return error ? { status: "error", error } : { status: "ok", hasValue: false };
  }

  /** `--save-name x`: the AsyncResult becomes a typed notebook variable. */
  async #save(name: string, ar: AsyncResult<unknown>): Promise<void> {
    const cells = await this.env.cells();
    cells.scope[name] = ar;
    cells.notebook.scope.commit(`declare let ${name}: import("tsparallel").AsyncResult<unknown>;\nexport { ${name} };\n`, new Set([name]));
  }
}
