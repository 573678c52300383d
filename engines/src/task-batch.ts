import { resolveFunctions, type EngineTask, type MessageContents } from "@tsparallel/protocol";
import type { QueuedTask } from "./task-queue.js";

export class MalformedBatchError extends Error {
  override name = "MalformedBatchError";
}

function checkTask(task: unknown, index: number): asserts task is EngineTask {
  const t = task as Partial<EngineTask> | null;
  if (t === null || typeof t !== "object") throw new MalformedBatchError(`task ${index} is not an object`);
  if (typeof t.msgId !== "string" || t.msgId.length === 0) throw new MalformedBatchError(`task ${index} has no msgId`);
  if (t.body === null || typeof t.body !== "object" || typeof (t.body as { kind?: unknown }).kind !== "string") {
    throw new MalformedBatchError(`task ${t.msgId} has no body kind`);
  }
  if (!Number.isInteger(t.bufferCount) || (t.bufferCount as number) < 0) throw new MalformedBatchError(`task ${t.msgId} has a bad bufferCount`);
}

/**
 * Checks a task_request as a whole and pairs each task with its frames. Anything malformed throws,
 * and the caller drops the batch: a half-understood batch is never run. (An unknown kind is not
 * malformed: it runs and answers with an error result.)
 */
export function tasksOf(content: MessageContents["task_request"], buffers: Buffer[]): QueuedTask[] {
  const tasks = (content as { tasks?: unknown }).tasks;
  if (!Array.isArray(tasks)) throw new MalformedBatchError("content.tasks is not an array");
  // Bodies name their function by index in `fns` (shared-functions.ts): the tasks then share its object.
  const unresolved = resolveFunctions(tasks, (content as { fns?: unknown }).fns);
  if (unresolved) throw new MalformedBatchError(unresolved);
  tasks.forEach(checkTask);
  // One pass, as splitFrames would check it, without its counts and groups arrays (a batch holds up to 256 tiny tasks).
  const queued = new Array<QueuedTask>(tasks.length);
  let at = 0;
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i] as EngineTask;
    const count = task.bufferCount;
    if (at + count > buffers.length) throw new MalformedBatchError("message buffer counts do not match its frames");
    queued[i] = { task, frames: buffers.slice(at, at + count) };
    at += count;
  }
  if (at !== buffers.length) throw new MalformedBatchError(`${buffers.length - at} frames belong to no task`);
  return queued;
}
