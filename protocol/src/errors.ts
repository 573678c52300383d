import type { RemoteErrorInfo } from "./messages.js";

/** Turns anything thrown into the wire form of a remote error. */
export function errorInfo(err: unknown, engineId?: number): RemoteErrorInfo {
  if (err instanceof Error) {
    const stack = (err.stack ?? `${err.name}: ${err.message}`).split("\n");
    return { ename: err.name || "Error", evalue: err.message, traceback: stack, ...(engineId === undefined ? {} : { engineId }) };
  }
  const text = typeof err === "string" ? err : safeString(err);
  return { ename: "Error", evalue: text, traceback: [`Uncaught ${text}`], ...(engineId === undefined ? {} : { engineId }) };
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
