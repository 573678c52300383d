import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** A line of a launched process's stdout that `read` refused: the launch failed, for the reason given. */
export class UnexpectedLine extends Error {}

/**
 * Reads a launched process's stdout line by line until `read` returns a value. Rejects with
 * `failure(why)` when the process exits first, when `read` throws UnexpectedLine, or after `timeoutMs`
 * (`waitingFor` says what was awaited). Lines for which `read` returns undefined are skipped.
 */
export function readLaunchOutput<T>(
  child: ChildProcess,
  timeoutMs: number,
  waitingFor: string,
  read: (line: string) => T | undefined,
  failure: (why: string) => Error,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const done = () => {
      clearTimeout(timer);
      lines.close();
      child.removeListener("exit", onExit);
    };
    const fail = (why: string) => {
      done();
      reject(failure(why));
    };
    const onExit = (code: number | null, signal: string | null) => fail(`ssh exited (${signal ?? `code ${code}`})`);
    const timer = setTimeout(() => fail(`${waitingFor} after ${timeoutMs} ms`), timeoutMs);
    child.once("exit", onExit);
    lines.on("line", (line) => {
      let value: T | undefined;
      try {
        value = read(line);
      } catch (err) {
        if (err instanceof UnexpectedLine) return fail(err.message);
        throw err;
      }
      if (value === undefined) return;
      done();
      resolve(value);
    });
  });
}

/** The remote pid a launch command echoes first (`echo $$ && exec ...`). */
export function remotePidOf(line: string): number {
  const pid = Number(line.trim());
  if (!Number.isInteger(pid) || pid < 1) throw new UnexpectedLine(`expected the remote pid, got "${line.slice(0, 200)}"`);
  return pid;
}
