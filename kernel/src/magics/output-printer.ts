import type { AsyncResult, TaskMetadata } from "tsparallel";
import type { IOPub } from "../output/iopub.js";
import type { GroupBy } from "./px-options.js";

/**
 * Engine output in the notebook, prefixed as ipyparallel does: a `[stdout:0]` line whenever the
 * engine or stream changes, then the text; a new prefix starts on a new line.
 */
export class OutputPrinter {
  #lastPrefix = "";
  #trailingNewline = true;
  /** Characters already shown live, per task and stream: the final result repeats them. */
  readonly #streamed = new Map<string, number>();

  constructor(private readonly iopub: IOPub) {}

  stream(name: "stdout" | "stderr", text: string, engineId: number | null): void {
    if (!text) return;
    let prefix = engineId === null ? "" : `[${name}:${engineId}] `;
    if (prefix && prefix === this.#lastPrefix) prefix = "";
    else if (prefix) this.#lastPrefix = prefix;
    const before = prefix && !this.#trailingNewline ? "\n" : "";
    this.#trailingNewline = text.endsWith("\n");
    this.iopub.stream(name, `${before}${prefix}${prefix ? "\n" : ""}${text}`);
  }

  /** Live output of a task, while it runs (--stream). */
  live(msgId: string, name: "stdout" | "stderr", text: string, engineId: number): void {
    const key = `${msgId}:${name}`;
    this.#streamed.set(key, (this.#streamed.get(key) ?? 0) + text.length);
    this.stream(name, text, engineId);
  }

  /** The part of a task's stream not shown live (output that came with its result). */
  #unseen(task: TaskMetadata, name: "stdout" | "stderr"): string {
    return task[name].slice(this.#streamed.get(`${task.msgId}:${name}`) ?? 0);
  }

  /** `Out[engine:count]: repr` for each task that ended with a value. */
  result(task: TaskMetadata): void {
    if (task.repr === undefined) return;
    const label = task.engineId === null ? "Out" : `Out[${task.engineId}:${task.executionCount ?? ""}]`;
    const text = `${label}: ${task.repr}`;
    this.iopub.publish("display_data", { data: { "text/plain": text }, metadata: { engine: task.engineId }, transient: {} });
  }

  /** Everything a finished %px result has to show, grouped as `--group-outputs` says. */
  outputs(ar: AsyncResult<unknown>, groupBy: GroupBy): void {
    const tasks = ar.metadata;
    const streams = (task: TaskMetadata) => {
      this.stream("stdout", this.#unseen(task, "stdout"), task.engineId);
      this.stream("stderr", this.#unseen(task, "stderr"), task.engineId);
    };
    if (groupBy === "engine") {
      for (const task of tasks) {
        streams(task);
        this.result(task);
      }
      return;
    }
    for (const task of tasks) this.stream("stdout", this.#unseen(task, "stdout"), task.engineId);
    for (const task of tasks) this.stream("stderr", this.#unseen(task, "stderr"), task.engineId);
    // Engines publish no rich display outputs, so "order" collates the same way as "type".
    for (const task of tasks) this.result(task);
  }
}
