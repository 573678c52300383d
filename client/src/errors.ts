import { inspect } from "node:util";
import type { RemoteErrorInfo } from "@tsparallel/protocol";

/** How many remote tracebacks a CompositeError draws, as ipyparallel's `tb_limit`. */
export const TRACEBACK_LIMIT = 4;

/** The lines of this process's own stack, without the message line it starts with. */
function localFrames(err: Error): string[] {
  return (err.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
}

/** An exception raised on an engine, with its remote stack. */
export class RemoteError extends Error {
  override name = "RemoteError";
  readonly engineId: number | undefined;
  readonly ename: string;
  readonly evalue: string;
  readonly traceback: string[];
  readonly msgId: string | undefined;
  /** What the task was (`apply`, `map`, `execute`, ...), when known: `[0:apply]` in renderings. */
  method: string | undefined;

  constructor(info: RemoteErrorInfo, msgId?: string, method?: string) {
    super(`${info.engineId === undefined ? "" : `[engine ${info.engineId}] `}${info.ename}: ${info.evalue}`);
    this.engineId = info.engineId;
    this.ename = info.ename;
    this.evalue = info.evalue;
    this.traceback = info.traceback;
    this.msgId = msgId;
    this.method = method;
  }

  /** `[0:apply]`, as ipyparallel names the engine and method of a remote exception. */
  get engineLabel(): string {
    return `[${this.engineId ?? "?"}:${this.method ?? "task"}]`;
  }

  /** The remote stack as the engine printed it. */
  renderTraceback(): string {
    return this.traceback.length ? this.traceback.join("\n") : `${this.ename}: ${this.evalue}`;
  }

  /** console.log / util.inspect show the remote stack, then where it surfaced here. */
  [inspect.custom](): string {
    return [`${this.name}: ${this.engineLabel} ${this.renderTraceback()}`, ...localFrames(this)].join("\n");
  }
}

/** The engine running a task died (or was stopped) before the task finished. */
export class EngineError extends RemoteError {
  override name = "EngineError";
}

function moreLine(count: number): string[] {
  return count > TRACEBACK_LIMIT ? [`... ${count - TRACEBACK_LIMIT} more exceptions ...`] : [];
}

/**
 * Several tasks of one result failed: every error is kept, in task order. Its message and its
 * rendering show the first TRACEBACK_LIMIT of them, as ipyparallel's does.
 */
export class CompositeError extends Error {
  override name = "CompositeError";
  constructor(readonly errors: Error[], total: number) {
    const shown = errors.slice(0, TRACEBACK_LIMIT).map((e) => `  ${e.message}`);
    super([`${errors.length} of ${total} tasks failed:`, ...shown, ...moreLine(errors.length).map((l) => `  ${l}`)].join("\n"));
  }

  /** Re-throws the first remote error (or the one at `index`): handy when only one engine failed. */
  raiseException(index = 0): never {
    const err = this.errors[index];
    if (!err) throw new RangeError(`an exception with index ${index} does not exist (${this.errors.length} errors)`);
    throw err;
  }

  /** Each engine's remote traceback (the first TRACEBACK_LIMIT, or the one at `index`), as lines. */
  renderTraceback(index?: number): string[] {
    const render = (e: Error): string[] => (e instanceof RemoteError ? [e.engineLabel, ...e.renderTraceback().split("\n")] : ["[local]", ...(e.stack ?? String(e)).split("\n")]);
    if (index !== undefined) {
      const err = this.errors[index];
      if (!err) throw new RangeError(`an exception with index ${index} does not exist (${this.errors.length} errors)`);
      return render(err);
    }
    return [...this.errors.slice(0, TRACEBACK_LIMIT).flatMap((e) => [...render(e), ""]), ...moreLine(this.errors.length)];
  }

  /** console.error / util.inspect show the remote tracebacks, not `errors: [Array]`. */
  [inspect.custom](): string {
    const header = `${this.name}: ${this.message.split("\n", 1)[0]}`;
    return [header, ...this.renderTraceback().map((l) => (l ? `  ${l}` : l)), ...localFrames(this)].join("\n");
  }
}

export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** The controller refused the connection's ZMTP handshake: CURVE keys missing, wrong or unexpected. */
export class HandshakeError extends Error {
  override name = "HandshakeError";
}

export class NoEnginesError extends Error {
  override name = "NoEnginesError";
}

/** The task was aborted before it ran. */
export class TaskAbortedError extends Error {
  override name = "TaskAbortedError";
  constructor(readonly msgId: string) {
    super(`task ${msgId} was aborted before it ran`);
  }
}

/** A task's dependency names a task nobody knows (ipyparallel's InvalidDependency). */
export class InvalidDependencyError extends Error {
  override name = "InvalidDependencyError";
}

/** A task's dependencies can no longer be met, so it never ran (ipyparallel's ImpossibleDependency). */
export class ImpossibleDependencyError extends Error {
  override name = "ImpossibleDependencyError";
}

/**
 * A task took another task's result as an argument (an AsyncResult passed to apply), and that task
 * failed or was aborted, so this one never ran. The message names the task and its error.
 */
export class DependencyError extends RemoteError {
  override name = "DependencyError";
}

/** The controller stopped answering, or shut down, while tasks were outstanding. */
export class ControllerError extends Error {
  override name = "ControllerError";
}

/** Maps a wire error to the most specific client error class. */
export function remoteErrorFrom(info: RemoteErrorInfo, msgId?: string, method?: string): Error {
  switch (info.ename) {
    case "EngineError":
      return new EngineError(info, msgId, method);
    case "NoEnginesError":
      return new NoEnginesError(info.evalue);
    case "DependencyError":
      return new DependencyError(info, msgId, method);
    case "TimeoutError":
      return new TimeoutError(info.evalue);
    default:
      return new RemoteError(info, msgId, method);
  }
}
