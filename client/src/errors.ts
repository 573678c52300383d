import type { RemoteErrorInfo } from "@tsparallel/protocol";

/** An exception raised on an engine, with its remote stack. */
export class RemoteError extends Error {
  override name = "RemoteError";
  readonly engineId: number | undefined;
  readonly ename: string;
  readonly evalue: string;
  readonly traceback: string[];
  readonly msgId: string | undefined;

  constructor(info: RemoteErrorInfo, msgId?: string) {
    super(`${info.engineId === undefined ? "" : `[engine ${info.engineId}] `}${info.ename}: ${info.evalue}`);
    this.engineId = info.engineId;
    this.ename = info.ename;
    this.evalue = info.evalue;
    this.traceback = info.traceback;
    this.msgId = msgId;
  }

  /** The remote stack as the engine printed it. */
  renderTraceback(): string {
    return this.traceback.join("\n");
  }
}

/** The engine running a task died (or was stopped) before the task finished. */
export class EngineError extends RemoteError {
  override name = "EngineError";
}

/** A message naming 200,000 failures helps nobody read it; `.errors` has them all. */
const SHOWN_ERRORS = 20;

/** Several tasks of one result failed: every error is kept, in task order. */
export class CompositeError extends Error {
  override name = "CompositeError";
  constructor(readonly errors: Error[], total: number) {
    const shown = errors.slice(0, SHOWN_ERRORS).map((e) => `  ${e.message}`);
    if (errors.length > SHOWN_ERRORS) shown.push(`  ... and ${errors.length - SHOWN_ERRORS} more (see .errors)`);
    super(`${errors.length} of ${total} tasks failed:\n${shown.join("\n")}`);
  }

  /** Re-throws the first remote error: handy when only one engine failed. */
  raiseException(): never {
    throw this.errors[0];
  }
}

export class TimeoutError extends Error {
  override name = "TimeoutError";
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

/** The controller stopped answering, or shut down, while tasks were outstanding. */
export class ControllerError extends Error {
  override name = "ControllerError";
}

/** Maps a wire error to the most specific client error class. */
export function remoteErrorFrom(info: RemoteErrorInfo, msgId?: string): Error {
  switch (info.ename) {
    case "EngineError":
      return new EngineError(info, msgId);
    case "NoEnginesError":
      return new NoEnginesError(info.evalue);
    case "TimeoutError":
      return new TimeoutError(info.evalue);
    default:
      return new RemoteError(info, msgId);
  }
}
