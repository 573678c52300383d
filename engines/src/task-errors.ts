import { errorInfo, type RemoteErrorInfo } from "@tsparallel/protocol";
import { cellSourceLines } from "./cell-source-lines.js";

/** A per-task failure with a chosen name (NameError, FunctionNotFound...), reported as a result. */
export class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export const FREE_NAME_HINT = '(names resolve in the engine namespace: push it or pass ref("name"))';

/** Frames from here on are the engine's own machinery, not the user's code. */
const ENGINE_FRAME = /\/engines\/(dist|src)\/|\(node:internal|^\s+at node:internal|tsparallel-engine/;

function trimEngineFrames(traceback: string[]): string[] {
  const firstFrame = traceback.findIndex((line) => /^\s+at /.test(line));
  if (firstFrame < 0) return traceback;
  const cut = traceback.findIndex((line, i) => i >= firstFrame && ENGINE_FRAME.test(line));
  return cut < 0 ? traceback : traceback.slice(0, cut);
}

/** The wire form of a task error: engine frames trimmed, free-name ReferenceErrors hinted. */
export function taskErrorInfo(err: unknown, engineId: number): RemoteErrorInfo {
  const info = errorInfo(err, engineId);
  if (info.ename === "ReferenceError" && / is not defined$/.test(info.evalue)) {
    const hinted = `${info.evalue} ${FREE_NAME_HINT}`;
    info.traceback = info.traceback.map((line) => (line === `ReferenceError: ${info.evalue}` ? `ReferenceError: ${hinted}` : line));
    info.evalue = hinted;
  }
  if (!(err instanceof TaskError)) info.traceback = cellSourceLines.annotate(trimEngineFrames(info.traceback));
  else info.traceback = [`${info.ename}: ${info.evalue}`];
  return info;
}
