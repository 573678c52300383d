import type { Message } from "@tsparallel/protocol";
import type { JupyterChannel } from "../jupyter/channel.js";
import type { JupyterContents } from "../jupyter/messages.js";
import type { CellExecutor } from "../execution/cell-executor.js";
import type { CellsProvider } from "../execution/lazy-cells.js";
import type { History } from "../history.js";
import type { IOPub } from "../output/iopub.js";
import { mimeBundle } from "../output/repr.js";
import type { UncaughtErrors } from "../runtime/uncaught-errors.js";

export interface ExecuteServices {
  shell: JupyterChannel;
  iopub: IOPub;
  executor: CellExecutor;
  cells: CellsProvider;
  history: History;
  /** Errors escaping a cell later (timers, floating promises) are reported in its name. */
  uncaught: UncaughtErrors;
  /** The execution counter: the number of the last cell stored in history. */
  counter: { value: number };
}

type ExecuteRequest = Message<JupyterContents["execute_request"]>;

/** user_expressions: each evaluated after the cell, its value shown as a MIME bundle or its error. */
async function userExpressions(services: ExecuteServices, expressions: Record<string, string>): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  for (const [name, expression] of Object.entries(expressions)) {
    const outcome = await (await services.cells()).run(expression, 0);
    results[name] =
      outcome.status === "ok"
        ? { status: "ok", data: mimeBundle(outcome.value), metadata: {} }
        : { status: "error", ename: outcome.error.ename, evalue: outcome.error.evalue, traceback: outcome.error.traceback };
  }
  return results;
}

/**
 * execute_request: execute_input, the cell's own outputs, then execute_result or error on IOPub,
 * and the execute_reply. Returns whether the cell failed (the kernel then aborts queued cells
 * when stop_on_error is set).
 */
export async function execute(services: ExecuteServices, request: ExecuteRequest): Promise<boolean> {
  const { iopub, shell } = services;
  const content = request.content;
  const code = typeof content.code === "string" ? content.code : "";
  const silent = content.silent === true;
  const storeHistory = content.store_history !== false && !silent;
  if (storeHistory) services.counter.value++;
  const count = services.counter.value;
  if (!silent) iopub.publish("execute_input", { code, execution_count: count }, request.header);
  if (storeHistory) services.history.add(count, code);
  // Out before the cell runs: a synchronous cell holds the event loop, and the frontend must see it started.
  await iopub.flushed();

  const outcome = await services.uncaught.runCell({ header: request.header, cellNumber: count }, () => services.executor.run(code, count));
  iopub.flush();
  if (outcome.status === "error") {
    if (!silent) iopub.publish("error", outcome.error, request.header);
    shell.reply(request, "execute_reply", { status: "error", execution_count: count, ...outcome.error }, { status: "error" });
    return true;
  }
  if (!silent && outcome.hasValue) {
    const data = mimeBundle(outcome.value);
    iopub.publish("execute_result", { execution_count: count, data, metadata: {} }, request.header);
    if (storeHistory && typeof data["text/plain"] === "string") services.history.setOutput(count, data["text/plain"]);
  }
  const expressions = content.user_expressions && typeof content.user_expressions === "object" ? await userExpressions(services, content.user_expressions) : {};
  shell.reply(request, "execute_reply", { status: "ok", execution_count: count, payload: outcome.payload ?? [], user_expressions: expressions }, { status: "ok" });
  return false;
}

/** A queued execute_request after an earlier cell failed (stop_on_error): not run. */
export function abortExecute(services: ExecuteServices, request: ExecuteRequest): void {
  services.shell.reply(request, "execute_reply", { status: "aborted", execution_count: services.counter.value }, { status: "aborted" });
}
