import type { Gather } from "../gather.js";
import type { RemoteErrorInfo, SchemeName, TaskBody, TaskKind, TaskResult, TaskStatus } from "@tsparallel/protocol";

/**
 * Where a task's results go: the submitting client's routing identity on the client socket.
 *
 * Classes, not literals, for this and TaskWork, made for every submission or task and living as long as
 * the task (see TaskRecord): their declared fields start undefined, so V8 tracks them as "any object"
 * from the first one made. A literal's field starts as the exact shape of its first value (the first
 * identities array, the first parsed body) and is widened the first time another shape comes, which
 * deoptimized every function compiled on that assumption (#submitBalanced, the store's `added`, the
 * TaskRecord constructor: recompiled after a fresh controller's first few thousand tasks). And `new`
 * has no allocation site for V8 to switch to "tenure" when most of them outlive a scavenge.
 */
export class ClientRef {
  readonly key: string;
  readonly identities: Buffer[];
  constructor(key: string, identities: Buffer[]) {
    this.key = key;
    this.identities = identities;
  }
}

/**
 * Load-balancing state of a task that the scheduler places. A class, not a literal (see ClientRef): one
 * per task, living as long as it; made from a literal, most of them outlived a scavenge in a fresh
 * controller's first thousands of tasks, V8 switched the literal to "tenure" and threw away
 * #submitBalanced, compiled with it inlined.
 */
export class BalancedState {
  /** True while it sits in the unassigned queue. */
  waiting = false;
  /** Its place in the unassigned queue while waiting (lower = older; see UnassignedQueue). */
  seq?: number = undefined;
  timeout?: NodeJS.Timeout = undefined;
  /** Engines that died (or, with retryOnError, failed) while running it: a retry never goes back to them. */
  excluded?: Set<number> = undefined;

  constructor(
    /** Engines the task may run on; undefined = any. */
    readonly targets: ReadonlySet<number> | undefined,
    public retriesLeft: number,
    readonly timeoutMs: number | undefined,
    /** Which tasks it is alike for run time (see TaskDurations). */
    readonly durationKey: string,
    /** Retries also when the task throws, not only when its engine dies (ipyparallel's retries). */
    readonly retryOnError: boolean | undefined,
    /** The submitter's scheme for this task, when it overrides the controller's. */
    readonly scheme: SchemeName | undefined,
  ) {}
}

/** What to send to an engine. Kept until the task is sent, or until it completes when it may be retried. A class: see ClientRef. */
export class TaskWork {
  readonly body: TaskBody;
  readonly frames: Buffer[];
  constructor(body: TaskBody, frames: Buffer[]) {
    this.body = body;
    this.frames = frames;
  }
}

/** What few tasks have (errors, output, labels, ...): one object for those, none for the rest. */
interface RareFields {
  error?: RemoteErrorInfo;
  stdout?: string;
  stderr?: string;
  repr?: string;
  executionCount?: number;
  label?: string;
  note?: string;
  resubmitted?: string;
  gather?: Gather;
}

/** The frames of a record that has none: shared, never written to (a record's frames are replaced, not pushed to). */
const NO_FRAMES: Buffer[] = [];

/**
 * One task. In a million-item map the controller holds tens of thousands of these at once (the
 * client's in-flight window, and the finished ones kept), and each lives for seconds: long enough for
 * every byte of it to be copied by each young-generation GC and promoted. So the common fields are all
 * it holds; the rare ones live in one object made on first write (accessors on the prototype cost no
 * space per record), and a record without results shares one empty frames array.
 */
export class TaskRecord {
  engineId: number | null = null;
  started?: number;
  completed?: number;
  status?: TaskStatus;
  resultFrames: Buffer[] = NO_FRAMES;
  /** Written twice on purpose: see the constructor. */
  resultsEvicted = true;
  /** Size of the result value as the engine sent it, kept or not. */
  resultBytes = 0;
  work?: TaskWork;
  /**
   * What the task stream shows of the work, kept after the work itself is dropped. Every task sent to an
   * engine has it, so it is a field: among the rare ones it made a rare-fields object for every task.
   */
  streamInfo?: { name?: string } = undefined;
  /** A map chunk's first item's index, which the task stream shows beside the name. */
  streamIndex?: number = undefined;
  readonly lb?: BalancedState;
  /**
   * The task store's own note of this task until it finishes (the SQLite store's: its entry while it
   * waits to be written, then the seq its row was written under): found from the record, not by a Map
   * lookup per task.
   */
  storeEntry?: object | number = undefined;
  #rare?: RareFields;
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
    // V8 takes a field as constant until a record's value of it is first changed, and throws away the
    // code compiled on that (#submitBalanced and this constructor). Results are dropped only past the
    // records' bounds (1,024 kept by default), after a fresh controller has compiled its hot code:
    // changed here, the field is variable from the first record.
    this.resultsEvicted = false;
  }

  get error(): RemoteErrorInfo | undefined {
    return this.#rare?.error;
  }
  set error(value: RemoteErrorInfo | undefined) {
    this.#set("error", value);
  }
  get stdout(): string | undefined {
    return this.#rare?.stdout;
  }
  set stdout(value: string | undefined) {
    this.#set("stdout", value);
  }
  get stderr(): string | undefined {
    return this.#rare?.stderr;
  }
  set stderr(value: string | undefined) {
    this.#set("stderr", value);
  }
  get repr(): string | undefined {
    return this.#rare?.repr;
  }
  set repr(value: string | undefined) {
    this.#set("repr", value);
  }
  get executionCount(): number | undefined {
    return this.#rare?.executionCount;
  }
  set executionCount(value: number | undefined) {
    this.#set("executionCount", value);
  }
  get label(): string | undefined {
    return this.#rare?.label;
  }
  set label(value: string | undefined) {
    this.#set("label", value);
  }
  /** Why the task store does not keep the result value (over its size cap). */
  get note(): string | undefined {
    return this.#rare?.note;
  }
  set note(value: string | undefined) {
    this.#set("note", value);
  }
  /** The msgId this task was resubmitted as. */
  get resubmitted(): string | undefined {
    return this.#rare?.resubmitted;
  }
  set resubmitted(value: string | undefined) {
    this.#set("resubmitted", value);
  }
  /** The broadcast this task belongs to, until its result is handed to it. */
  get gather(): Gather | undefined {
    return this.#rare?.gather;
  }
  set gather(value: Gather | undefined) {
    this.#set("gather", value);
  }

  #set<K extends keyof RareFields>(key: K, value: RareFields[K]): void {
    if (value === undefined) {
      if (this.#rare) delete this.#rare[key];
      return;
    }
    (this.#rare ??= {})[key] = value;
  }

  /** Whether any of the rare fields the task store writes (error, output, repr, count, note, resubmitted) is set. */
  hasStoredExtras(): boolean {
    const rare = this.#rare;
    if (rare === undefined) return false;
    return rare.error !== undefined || rare.stdout !== undefined || rare.stderr !== undefined || rare.repr !== undefined || rare.executionCount !== undefined || rare.note !== undefined || rare.resubmitted !== undefined;
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
    this.resultFrames = frames.length ? frames : NO_FRAMES;
    this.resultBytes = 0;
    for (const frame of frames) this.resultBytes += frame.length;
    this.work = undefined;
    if (this.lb?.timeout) clearTimeout(this.lb.timeout);
  }

  /** Drops the result frames (memory bounds, purge). */
  dropResults(): void {
    this.resultFrames = NO_FRAMES;
    this.resultsEvicted = true;
  }

  /** Keeps streamed output for result_request, bounded so a chatty task cannot exhaust memory. */
  appendOutput(name: "stdout" | "stderr", text: string): void {
    const previous = this[name] ?? "";
    if (previous.length >= MAX_KEPT_OUTPUT) return;
    this[name] = (previous + text).slice(0, MAX_KEPT_OUTPUT);
  }
}

const MAX_KEPT_OUTPUT = 1 << 20;
