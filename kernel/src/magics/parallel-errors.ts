import type { AsyncResult } from "tsparallel";
import type { ErrorContent } from "../jupyter/messages.js";
import { remoteFrames } from "../output/remote-frames.js";

const RED = "\u001b[31m";
const RESET = "\u001b[0m";

interface RemoteLike {
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/**
 * The errors of a finished parallel execution, gathered per engine as ipyparallel shows them
 * (`[0:execute] RangeError: ...` and the remote stack), with a summary of how many engines failed.
 * Null when every task succeeded.
 */
export function parallelError(ar: AsyncResult<unknown>): ErrorContent | null {
  const failed = ar.metadata.filter((m) => m.error !== undefined);
  if (failed.length === 0) return null;
  const traceback: string[] = [];
  for (const task of failed) {
    const error = task.error as Error & RemoteLike;
    const ename = error.ename ?? error.name;
    const evalue = error.evalue ?? error.message;
    traceback.push(`[${task.engineId ?? "?"}:${task.kind}] ${RED}${ename}${RESET}: ${evalue}`);
    traceback.push(...remoteFrames(error.traceback ?? []));
  }
  const summary = `${failed.length} of ${ar.length} engine${ar.length === 1 ? "" : "s"} failed`;
  traceback.push(summary);
  if (ar.length === 1) {
    const error = failed[0]!.error as Error & RemoteLike;
    return { ename: error.ename ?? error.name, evalue: error.evalue ?? error.message, traceback };
  }
  return { ename: "CompositeError", evalue: `one or more exceptions raised in parallel: ${summary}`, traceback };
}
