import { encodePublishedData, type StreamItem } from "@tsparallel/protocol";
import { installDisplay, type MimeBundle } from "./display-global.js";
import { installPublishData } from "./publish-data-global.js";

type StreamName = "stdout" | "stderr";
type Write = typeof process.stdout.write;

/** How often buffered output of a running task is sent as a `stream` message. */
export const STREAM_INTERVAL_MS = 50;

const clock = (): number => performance.now();

interface Chunk {
  msgId: string;
  name: StreamName;
  text: string;
}

function chunkText(chunk: unknown, encoding: unknown): string {
  if (typeof chunk === "string") return chunk;
  if (ArrayBuffer.isView(chunk)) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    return bytes.toString(typeof encoding === "string" && Buffer.isEncoding(encoding) ? encoding : "utf8");
  }
  return String(chunk);
}

/** What take() gives for a task that printed nothing (shared: callers only copy from it). */
const NOTHING_PENDING: { stdout?: string; stderr?: string } = Object.freeze({});

/**
 * Attributes everything written to process.stdout/stderr (console.* writes through them too) to the
 * task that is running, or to the most recent one between tasks. Output is streamed every
 * STREAM_INTERVAL_MS while there is some; what is left when a task completes goes into its result.
 *
 * Live output of synchronous code: a timer cannot fire while a task loops, so a task's first write,
 * and a write that comes STREAM_INTERVAL_MS or more after the last send, sends at once, from the
 * write itself. The send is synchronous (the engine socket never blocks) and ZeroMQ's own I/O
 * thread puts it on the wire while the loop goes on, as ipyparallel's IOPub thread does. It goes through the same socket as the
 * results, so ZeroMQ's per-connection order (kept by the controller, which relays a batch's streams
 * before its results) means a task's output never reaches the client after its result. Writes
 * closer together than that are batched, so a chatty task costs at most one message per interval;
 * what such a burst leaves just before a long silent stretch of synchronous code waits for the next
 * write or the result.
 */
export class OutputCapture {
  readonly #original: Record<StreamName, Write>;
  #pending: Chunk[] = [];
  #owner: string | null = null;
  #bypass = 0;
  #timer: NodeJS.Timeout | null = null;
  #installed = false;
  /** When output was last sent (performance.now()); a write long after it is sent at once. */
  #lastSent = -Infinity;

  constructor(
    private readonly engineIdNow: () => number,
    private readonly sendStream: (items: StreamItem[]) => void,
  ) {
    this.#original = { stdout: process.stdout.write, stderr: process.stderr.write };
  }

  install(): void {
    if (this.#installed) return;
    this.#installed = true;
    process.stdout.write = this.#patched("stdout");
    process.stderr.write = this.#patched("stderr");
    installDisplay((bundle) => this.display(bundle));
    installPublishData((data) => this.publishData(data));
  }

  /**
   * A rich output of the running task (`display.html(...)` on the engine): sent at once, after the
   * text written before it, as a stream item named "display" whose text is the bundle as JSON.
   */
  display(bundle: MimeBundle): void {
    const owner = this.#owner;
    if (owner === null) throw new Error("display() works inside a task on an engine");
    const text = JSON.stringify({ data: bundle });
    this.flush();
    this.sendStream([{ msgId: owner, engineId: this.engineIdNow(), name: "display", text }]);
  }

  /**
   * Data the running task publishes (`publishData({...})`): sent at once, after the output written
   * before it, as a stream item named "data". Throws, in the task, for data that cannot travel.
   */
  publishData(data: Record<string, unknown>): void {
    const owner = this.#owner;
    if (owner === null) throw new Error("publishData() works inside a task on an engine");
    const text = encodePublishedData(data);
    this.flush();
    this.sendStream([{ msgId: owner, engineId: this.engineIdNow(), name: "data", text }]);
  }

  uninstall(): void {
    if (!this.#installed) return;
    this.#installed = false;
    process.stdout.write = this.#original.stdout;
    process.stderr.write = this.#original.stderr;
    this.#clearTimer();
  }

  /** From now on output belongs to this task (until the next one starts). */
  attributeTo(msgId: string): void {
    // A task's first output leaves at once, whatever the task before it sent just now.
    if (msgId !== this.#owner) this.#lastSent = -Infinity;
    this.#owner = msgId;
  }

  /** Runs fn with writes going to the real streams: the engine's own log lines are not task output. */
  bypass<T>(fn: () => T): T {
    this.#bypass++;
    try {
      return fn();
    } finally {
      this.#bypass--;
    }
  }

  /** Removes and returns the unsent output of one task, for its result. */
  take(msgId: string): { stdout?: string; stderr?: string } {
    // Most tasks print nothing: no arrays or objects for them (this runs once per task).
    if (this.#pending.length === 0) {
      this.#clearTimer();
      return NOTHING_PENDING;
    }
    let stdout = "";
    let stderr = "";
    const rest: Chunk[] = [];
    for (const chunk of this.#pending) {
      if (chunk.msgId !== msgId) rest.push(chunk);
      else if (chunk.name === "stdout") stdout += chunk.text;
      else stderr += chunk.text;
    }
    this.#pending = rest;
    if (rest.length === 0) this.#clearTimer();
    return { ...(stdout ? { stdout } : {}), ...(stderr ? { stderr } : {}) };
  }

  /** Sends whatever is buffered now. */
  flush(): void {
    this.#clearTimer();
    if (this.#pending.length === 0) return;
    this.#lastSent = clock();
    const items: StreamItem[] = this.#pending.map((c) => ({ msgId: c.msgId, engineId: this.engineIdNow(), name: c.name, text: c.text }));
    this.#pending = [];
    this.sendStream(items);
  }

  #patched(name: StreamName): Write {
    const original = this.#original[name];
    const stream = name === "stdout" ? process.stdout : process.stderr;
    const capture = this;
    return function write(this: unknown, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      if (capture.#bypass > 0 || capture.#owner === null) {
        return (original as (...args: unknown[]) => boolean).call(stream, chunk, encoding, callback);
      }
      capture.#append(capture.#owner, name, chunkText(chunk, encoding));
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") process.nextTick(done as () => void);
      return true;
    } as Write;
  }

  #append(msgId: string, name: StreamName, text: string): void {
    if (text.length === 0) return;
    const last = this.#pending[this.#pending.length - 1];
    if (last && last.msgId === msgId && last.name === name) last.text += text;
    else this.#pending.push({ msgId, name, text });
    if (clock() - this.#lastSent >= STREAM_INTERVAL_MS) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), STREAM_INTERVAL_MS);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
