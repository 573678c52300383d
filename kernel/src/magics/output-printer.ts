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
  /** Rich outputs already shown live, per task. */
  readonly #displayed = new Map<string, number>();

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

  /** A rich output of an engine (`display(...)` there), labelled `[output:N]` as ipyparallel does. */
  display(data: Record<string, unknown>, engineId: number | null): void {
    if (engineId !== null) {
      const before = this.#trailingNewline ? "" : "\n";
      this.iopub.stream("stdout", `${before}[output:${engineId}]\n`);
      this.#trailingNewline = true;
      // Text after the display gets its own prefix again.
      this.#lastPrefix = "";
    }
    this.iopub.publish("display_data", { data, metadata: { engine: engineId }, transient: {} });
  }

  /** Live output of a task, while it runs (--stream). */
  live(msgId: string, name: "stdout" | "stderr" | "display", text: string, engineId: number, data?: Record<string, unknown>): void {
    if (name === "display") {
      if (!data) return;
      this.#displayed.set(msgId, (this.#displayed.get(msgId) ?? 0) + 1);
      this.display(data, engineId);
      return;
    }
    const key = `${msgId}:${name}`;
    this.#streamed.set(key, (this.#streamed.get(key) ?? 0) + text.length);
    this.stream(name, text, engineId);
  }

  /** The part of a task's stream not shown live (output that came with its result). */
  #unseen(task: TaskMetadata, name: "stdout" | "stderr"): string {
    return task[name].slice(this.#streamed.get(`${task.msgId}:${name}`) ?? 0);
  }

  #displays(task: TaskMetadata): void {
    for (const data of (task.displays ?? []).slice(this.#displayed.get(task.msgId) ?? 0)) this.display(data, task.engineId);
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
        this.#displays(task);
        this.result(task);
      }
      return;
    }
    for (const task of tasks) this.stream("stdout", this.#unseen(task, "stdout"), task.engineId);
    for (const task of tasks) this.stream("stderr", this.#unseen(task, "stderr"), task.engineId);
    for (const task of tasks) this.#displays(task);
    for (const task of tasks) this.result(task);
  }
}
