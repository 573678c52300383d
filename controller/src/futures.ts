import type { TaskBody, TaskRequest } from "@tsparallel/protocol";
import { TaskWork, type ClientRef } from "./records/task-record.js";

type ApplyBody = Extract<TaskBody, { kind: "apply" }>;

/**
 * A task that takes other tasks' results as arguments (an AsyncResult passed to apply), held here
 * until each of them has succeeded; their result frames go from the controller to the engine that
 * runs it, never by way of the client (Dask's futures do this; ipyparallel does not).
 */
export class WaitingTask {
  readonly #inputs: (Buffer[] | undefined)[];
  #left: number;
  /** Failed (a dependency failed): later inputs are ignored. */
  failed = false;

  constructor(
    readonly client: ClientRef,
    readonly request: TaskRequest,
    readonly work: TaskWork,
    readonly now: number,
  ) {
    this.#inputs = new Array(this.futures.length);
    this.#left = this.futures.length;
  }

  get futures(): NonNullable<ApplyBody["futures"]> {
    return (this.work.body as ApplyBody).futures!;
  }

  /** Gives the result frames of future i; true once every input is in. */
  provide(i: number, frames: Buffer[]): boolean {
    if (this.#inputs[i] === undefined) {
      this.#inputs[i] = frames;
      this.#left--;
    }
    return this.#left === 0 && !this.failed;
  }

  /** The work as an engine runs it: `inputs` in the body, their frames after the arguments'. */
  resolved(): TaskWork {
    const { futures, ...rest } = this.work.body as ApplyBody;
    const inputs = futures!.map(([index, , path], i): [number, number] | [number, number, (string | number)[]] =>
      path && path.length ? [index, this.#inputs[i]!.length, path] : [index, this.#inputs[i]!.length],
    );
    const frames = [...this.work.frames];
    for (const input of this.#inputs) for (const frame of input!) frames.push(frame);
    return new TaskWork({ ...rest, inputs }, frames);
  }
}

/** Waiting tasks by the msgId of each task whose result they still need. */
export class FutureWaits {
  readonly #byMsgId = new Map<string, [WaitingTask, number][]>();
  /** Tasks held here themselves, by msgId: a task may take the result of one (a chain), or be aborted. */
  readonly #held = new Map<string, WaitingTask>();

  holding(task: WaitingTask): void {
    for (const id of task.request.msgIds) this.#held.set(id, task);
  }

  released(task: WaitingTask): void {
    for (const id of task.request.msgIds) this.#held.delete(id);
  }

  /** Whether msgId is a task held here until its own inputs are in. */
  isHeld(msgId: string): boolean {
    return this.#held.has(msgId);
  }

  /** The held task with this msgId. */
  heldTask(msgId: string): WaitingTask | undefined {
    return this.#held.get(msgId);
  }

  /** The held tasks a client submitted. */
  heldFrom(clientKey: string): WaitingTask[] {
    const tasks = new Set<WaitingTask>();
    for (const task of this.#held.values()) if (task.client.key === clientKey) tasks.add(task);
    return [...tasks];
  }

  add(msgId: string, task: WaitingTask, index: number): void {
    let list = this.#byMsgId.get(msgId);
    if (!list) this.#byMsgId.set(msgId, (list = []));
    list.push([task, index]);
  }

  /** The tasks waiting for msgId's result (forgotten here). */
  take(msgId: string): [WaitingTask, number][] | undefined {
    if (this.#byMsgId.size === 0) return undefined;
    const list = this.#byMsgId.get(msgId);
    if (list) this.#byMsgId.delete(msgId);
    return list;
  }

  has(msgId: string): boolean {
    return this.#byMsgId.has(msgId);
  }
}
