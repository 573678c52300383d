import type { TaskResult, TaskStatus } from "@tsparallel/protocol";

/** Engine id used in results of tasks that never reached an engine. */
export const NO_ENGINE = -1;

/** A result the controller makes itself: the task failed or was aborted before or without an engine. */
export function controllerResult(msgId: string, engineId: number, ename: string, evalue: string, status: TaskStatus = "error"): TaskResult {
  const now = Date.now();
  const error = { ename, evalue, traceback: [`${ename}: ${evalue}`], ...(engineId === NO_ENGINE ? {} : { engineId }) };
  return { msgId, engineId, status, started: now, completed: now, error, bufferCount: 0 };
}
