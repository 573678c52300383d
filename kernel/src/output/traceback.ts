import { errorInfo } from "@tsparallel/protocol";
import type { ErrorContent } from "../jupyter/messages.js";

const RED = "\u001b[31m";
const RESET = "\u001b[0m";
/** Frames of the kernel's own machinery, which say nothing about the user's code. */
const INTERNAL_FRAME = /node:internal|node:vm|\/kernel\/dist\/|__tsparallel_kernel__/;

/** A Jupyter error for something a cell threw: the error line, then the stack frames outside the kernel. */
export function runtimeError(err: unknown): ErrorContent {
  const info = errorInfo(err);
  const frames = info.traceback.filter((line) => /^\s+at /.test(line) && !INTERNAL_FRAME.test(line));
  return {
    ename: info.ename,
    evalue: info.evalue,
    traceback: [`${RED}${info.ename}${RESET}: ${info.evalue}`, ...frames],
  };
}
