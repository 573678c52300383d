import type { Gather } from "../gather.js";
import type { RemoteErrorInfo, SchemeName, TaskBody, TaskKind, TaskResult, TaskStatus } from "@tsparallel/protocol";

/** Where a task's results go: the submitting client's routing identity on the client socket. */
export interface ClientRef {
  key: string;
  identities: Buffer[];
}

/** Load-balancing state of a task that the scheduler places. */
export interface BalancedState {
  /** Engines the task may run on; undefined = any. */
  targets?: ReadonlySet<number>;
  retriesLeft: number;
  timeoutMs?: number;
  /** Engines that died (or, with retryOnError, failed) while running it: a retry never goes back to them. */
  excluded?: Set<number>;
  /** Retries also when the task throws, not only when its engine dies (ipyparallel's retries). */
  retryOnError?: boolean;
  timeout?: NodeJS.Timeout;
  /** True while it sits in the unassigned queue. */
  waiting: boolean;
  /** Which tasks it is alike for run time (see TaskDurations). */
  durationKey: string;
  /** The submitter's scheme for this task, when it overrides the controller's. */
  scheme?: SchemeName;
}

/** What to send to an engine. Kept until the task is sent, or until it completes when it may be retried. */
export interface TaskWork {
  body: TaskBody;
  frames: Buffer[];
}

export class TaskRecord {
  engineId: number | null = null;
  started?: number;
  completed?: number;
  status?: TaskStatus;
  error?: RemoteErrorInfo;
  stdout?: string;
  stderr?: string;
  repr?: string;
  executionCount?: number;
  label?: string;
  resultFrames: Buffer[] = [];
  resultsEvicted = false;
  /** Size of the result value as the engine sent it, kept or not. */
  resultBytes = 0;
  /** Why the task store does not keep the result value (over its size cap). */
  note?: string;
  /** The msgId this task was resubmitted as. */
  resubmitted?: string;
  work?: TaskWork;
  /** What the task stream shows of the work, kept after the work itself is dropped. */
  streamInfo?: { name?: string; index?: number };
  readonly lb?: BalancedState;
  /** The broadcast this task belongs to, until its result is handed to it. */
  gather?: Gather;
  /**
   * Sent by its client straight to the engine (DirectView's direct path): the engine reported it, and
   * sends its result and output to the client itself. The controller tells the client only what it
   * decides itself (an EngineError when the engine dies).
   */
  direct?: boolean;

  constructor(
    readonly msgId: string,
    /** Reassigned only for a task queued again after a restart, whose client must ask for it (TaskRouter.adopt). */
    public client: ClientRef,
    readonly kind: TaskKind,
    readonly submitted: number,
    lb?: BalancedState,
  ) {
    this.lb = lb;
  }

  get pending(): boolean {
    return this.status === undefined;
  }

  /** Copies a result into the record; the caller forwards the same result and frames to the client. */
  finish(result: TaskResult, frames: Buffer[]): void {
    this.status = result.status;
    this.started = result.started;
    this.completed = result.completed;
    if (result.error) this.error = result.error;
    if (result.stdout) this.stdout = (this.stdout ?? "") + result.stdout;
    if (result.stderr) this.stderr = (this.stderr ?? "") + result.stderr;
    if (result.repr !== undefined) this.repr = result.repr;
    if (result.executionCount !== undefined) this.executionCount = result.executionCount;
    this.resultFrames = frames;
    this.resultBytes = 0;
    for (const frame of frames) this.resultBytes += frame.length;
    this.work = undefined;
    if (this.lb?.timeout) clearTimeout(this.lb.timeout);
  }

  /** Keeps streamed output for result_request, bounded so a chatty task cannot exhaust memory. */
  appendOutput(name: "stdout" | "stderr", text: string): void {
    const previous = this[name] ?? "";
    if (previous.length >= MAX_KEPT_OUTPUT) return;
    this[name] = (previous + text).slice(0, MAX_KEPT_OUTPUT);
  }
}

const MAX_KEPT_OUTPUT = 1 << 20;
