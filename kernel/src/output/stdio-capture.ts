import { StringDecoder } from "node:string_decoder";
import type { IOPub } from "./iopub.js";

type Write = typeof process.stdout.write;

/**
 * Sends what cells (and anything else in the kernel process) write to stdout/stderr to the
 * notebook as stream messages. The kernel's own log lines bypass this by writing to fd 2.
 */
export class StdioCapture {
  #originals: { stdout: Write; stderr: Write } | null = null;

  install(iopub: IOPub): void {
    if (this.#originals) return;
    this.#originals = { stdout: process.stdout.write, stderr: process.stderr.write };
    for (const name of ["stdout", "stderr"] as const) {
      const decoder = new StringDecoder("utf8");
      const write = (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean => {
        const text = typeof chunk === "string" ? chunk : decoder.write(Buffer.from(chunk as Uint8Array));
        iopub.stream(name, text);
        const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
        if (typeof done === "function") queueMicrotask(() => (done as () => void)());
        return true;
      };
      process[name].write = write as Write;
    }
  }

  uninstall(): void {
    if (!this.#originals) return;
    process.stdout.write = this.#originals.stdout;
    process.stderr.write = this.#originals.stderr;
    this.#originals = null;
  }
}
