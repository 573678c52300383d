import type { CellsProvider } from "./lazy-cells.js";
import type { CellOutcome } from "./outcome.js";
import { splitCell, type Segment } from "../magics/cell-splitter.js";
import type { ParallelMagics } from "../magics/px.js";
import { tspclusterMagic } from "../magics/tspcluster.js";
import type { ClusterHolder } from "../magics/cluster-holder.js";
import { UsageError } from "../magics/usage-error.js";
import { isHelpRequest, lsmagic, magicDoc, MAGICS } from "../magics/magic-docs.js";
import { timeitMagic, timeMagic } from "../magics/timing.js";
import { whos } from "../magics/whos.js";
import type { IOPub } from "../output/iopub.js";
import { runtimeError } from "../output/traceback.js";

/** The payload IPython's pager uses for `name?`. */
function pagePayload(data: Record<string, unknown>): Record<string, unknown> {
  return { source: "page", data, start: 0 };
}

/**
 * Runs one execute_request's code: plain TypeScript, or the magics in it, or (while %autopx is
 * on) everything on the engines.
 */
export class CellExecutor {
  constructor(
    private readonly cells: CellsProvider,
    private readonly px: ParallelMagics,
    private readonly clusters: ClusterHolder,
    private readonly iopub: IOPub,
  ) {}

  async run(code: string, cellNumber: number): Promise<CellOutcome> {
    try {
      if (this.px.autopx && !/^\s*%/.test(code)) return await this.px.linePx(code);
      const segments = splitCell(code);
      if (segments.length === 1 && segments[0]!.kind === "code") return await (await this.cells()).run(code, cellNumber);
      let outcome: CellOutcome = { status: "ok", hasValue: false };
      for (const [index, segment] of segments.entries()) {
        outcome = await this.#segment(segment, cellNumber);
        if (outcome.status === "error") return outcome;
        // Only the last part's value is the cell's result.
        if (index < segments.length - 1) outcome = { status: "ok", hasValue: false };
      }
      return outcome;
    } catch (err) {
      if (err instanceof UsageError) return { status: "error", error: { ename: err.name, evalue: err.message, traceback: [`UsageError: ${err.message}`] } };
      return { status: "error", error: runtimeError(err) };
    }
  }

  async #segment(segment: Segment, cellNumber: number): Promise<CellOutcome> {
    switch (segment.kind) {
      case "code":
        return (await this.cells()).run(segment.code, cellNumber);
      case "help": {
        const data = (await this.cells()).inspect(segment.expression, segment.expression.length);
        if (!data) throw new UsageError(`Object \`${segment.expression}\` not found.`);
        return { status: "ok", hasValue: false, payload: [pagePayload(data)] };
      }
      case "cell-magic": {
        const doc = magicDoc(segment.name);
        if (doc?.cell && isHelpRequest(doc, segment.args)) return this.#say(`${doc.usage}\n`);
        switch (segment.name) {
          case "px":
            return this.px.cellPx(segment.args, segment.body);
          case "time":
            return timeMagic(() => this.run(segment.body, cellNumber), (text) => this.#say(text));
          case "timeit":
            return timeitMagic(`${segment.args} ${segment.body}`, await this.cells(), cellNumber, (text) => this.#say(text));
          default:
            throw new UsageError(`Cell magic \`%%${segment.name}\` not found (cell magics: ${MAGICS.filter((m) => m.cell).map((m) => `%%${m.name}`).join(", ")}).`);
        }
      }
      case "line-magic":
        return this.#lineMagic(segment.name, segment.args, cellNumber);
    }
  }

  #say(text: string): CellOutcome {
    this.iopub.stream("stdout", text);
    return { status: "ok", hasValue: false };
  }

  async #lineMagic(name: string, args: string, cellNumber: number): Promise<CellOutcome> {
    const doc = magicDoc(name);
    if (doc?.line && isHelpRequest(doc, args)) return this.#say(`${doc.usage}\n`);
    switch (name) {
      case "lsmagic":
        return this.#say(lsmagic());
      case "time":
        return timeMagic(() => this.run(args, cellNumber), (text) => this.#say(text));
      case "timeit":
        return timeitMagic(args, await this.cells(), cellNumber, (text) => this.#say(text));
      case "whos":
        return this.#say(whos((await this.cells()).scope));
      case "px":
        return this.px.linePx(args);
      case "pxresult":
      case "result":
        return this.px.pxresult(args);
      case "pxconfig":
        return this.px.pxconfig(args);
      case "autopx":
        return this.px.toggleAutopx();
      case "tspcluster":
        return tspclusterMagic(args, this.clusters, this.iopub);
      default:
        throw new UsageError(`Line magic function \`%${name}\` not found (magics: ${MAGICS.filter((m) => m.line).map((m) => `%${m.name}`).join(", ")}).`);
    }
  }
}
