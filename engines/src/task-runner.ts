import { inspect } from "node:util";
import { packValue, type EngineTask, type TaskResult } from "@tsparallel/protocol";
import type { Interrupter } from "./interrupt.js";
import type { OutputCapture } from "./output-capture.js";
import { now, type FinishedTask } from "./result-batch.js";
import { taskErrorInfo } from "./task-errors.js";
import { isThenable, type TaskHandlers, type TaskOutcome } from "./task-handlers.js";
import type { QueuedTask } from "./task-queue.js";

/** packValue's options, made once (not an object per task). */
const OWN_ARRAY = { ownArray: true } as const;
const NOT_OWN = { ownArray: false } as const;

/**
 * Turns one task into its result: output attributed to it, its value packed, every failure (a value
 * that cannot travel included) an error result. A task whose code finishes synchronously is
 * finished synchronously; one that awaits is raced against SIGINT.
 */
export class TaskRunner {
  /** The task running now and when it started (two fields, not an object per task). */
  #current: EngineTask | null = null;
  #currentStarted = 0;

  constructor(
    private readonly engineIdNow: () => number,
    private readonly handlers: TaskHandlers,
    private readonly capture: OutputCapture,
    private readonly interrupter: Interrupter,
  ) {}

  run = ({ task, frames, direct }: QueuedTask): FinishedTask | Promise<FinishedTask> => {
    const started = now();
    this.#current = task;
    this.#currentStarted = started;
    this.capture.attributeTo(task.msgId);
    let outcome: TaskOutcome | Promise<TaskOutcome>;
    try {
      outcome = this.handlers.run(task.body, frames, direct === true);
    } catch (error) {
      return this.#finish(task, started, null, error);
    }
    if (isThenable(outcome)) return this.#settle(task, started, outcome);
    return this.#finish(task, started, outcome, undefined);
  };

  /** Ends the task that was running synchronously when `error` (an interruption) cut it short. */
  cutShort = (error: unknown): FinishedTask | null => {
    const current = this.#current;
    return current ? this.#finish(current, this.#currentStarted, null, error) : null;
  };

  aborted = (task: EngineTask): FinishedTask => {
    const at = now();
    return { result: { msgId: task.msgId, engineId: this.engineIdNow(), status: "aborted", started: at, completed: at, bufferCount: 0 }, frames: [] };
  };

  async #settle(task: EngineTask, started: number, pending: Promise<TaskOutcome>): Promise<FinishedTask> {
    try {
      return this.#finish(task, started, await this.interrupter.guard(() => pending), undefined);
    } catch (error) {
      return this.#finish(task, started, null, error);
    }
  }

  /** `outcome` null: the task failed with `error` (which may be any value, undefined too). No object per task for the pair. */
  #finish(task: EngineTask, started: number, outcome: TaskOutcome | null, error: unknown): FinishedTask {
    const result: TaskResult = { msgId: task.msgId, engineId: this.engineIdNow(), status: "ok", started, completed: started, bufferCount: 0 };
    let frames: Buffer[] = [];
    try {
      if (outcome === null) throw error;
      if (outcome.frames) frames = outcome.frames;
      else if (outcome.hasValue && outcome.valueOptional) {
        result.repr = inspect(outcome.value, { depth: 4, colors: false });
        frames = packIfPossible(outcome.value);
      } else if (outcome.hasValue) {
        frames = packValue(outcome.value, "the result", outcome.ownArray === true ? OWN_ARRAY : NOT_OWN).frames;
      }
    } catch (err) {
      result.status = "error";
      result.error = taskErrorInfo(err, this.engineIdNow());
      frames = [];
    }
    // A cell that failed still used up its number, as in IPython.
    if (task.body.kind === "execute" && task.body.silent !== true) result.executionCount = this.handlers.executionCount;
    // Field by field, not Object.assign: most tasks print nothing, and the generic copy ran per task.
    const output = this.capture.take(task.msgId);
    if (output.stdout !== undefined) result.stdout = output.stdout;
    if (output.stderr !== undefined) result.stderr = output.stderr;
    result.completed = now();
    // Only now: SIGINT during packing still has a task to answer for.
    this.#current = null;
    return { result, frames };
  }
}

function packIfPossible(value: unknown): Buffer[] {
  try {
    return packValue(value, "the result").frames;
  } catch {
    return [];
  }
}
