import { messageIdAt, messageIdIndex, type MessageIdBlock, type TaskKind, type TaskStatus } from "@tsparallel/protocol";
import type { TaskMetadata } from "./async-result.js";

const STATUSES: readonly (TaskStatus | undefined)[] = [undefined, "ok", "error", "aborted"];
const statusCode = (status: TaskStatus | undefined): number => Math.max(0, STATUSES.indexOf(status));

/** Calls of at most this many tasks keep their columns in plain arrays (see the constructor). */
const SMALL_TABLE = 16;

/** The number columns of a TaskTable, side by side per task. */
const COLUMNS = 4;
const ENGINE = 0;
const STARTED = 1;
const COMPLETED = 2;
const RECEIVED = 3;
/** A one-task table keeps its status code after its four numbers. */
const ONE_STATUS = 4;

/** What few tasks have: output, displays, published data, an error, an execution count, a repr; kept apart, by index. */
interface Rare {
  stdout?: string;
  stderr?: string;
  displays?: Record<string, unknown>[];
  data?: Record<string, unknown>;
  executionCount?: number;
  repr?: string;
  error?: Error;
  kind?: TaskKind;
}

/** The fields of TaskMetadata a result or an event sets on a task. */
export type TaskUpdate = Partial<Omit<TaskMetadata, "msgId" | "submitted" | "label" | "stdout" | "stderr" | "displays" | "data">>;

/**
 * What is known about the tasks of one call, in columns (a number per field and task, typed arrays)
 * rather than an object per task: a map of a million tiny tasks must not cost a million objects in the
 * client. TaskMetadata objects are built only when someone asks for them (`all()`), and from then on
 * kept current with the columns.
 */
export class TaskTable {
  readonly length: number;
  /** The msg ids: listed, or a reserved block spelled only when asked. */
  readonly #ids: readonly string[] | MessageIdBlock;
  #idList: readonly string[] | undefined;
  /** Epoch ms, the client's clock: every task of a call is submitted at once. */
  readonly submitted: number;
  readonly label: string | undefined;
  readonly #kind: TaskKind;
  /**
   * Per task, COLUMNS numbers side by side (engine id, started, completed, received; NaN: unknown): one
   * typed array for all four, so a one-task call (a tiny apply) allocates one instead of four.
   */
  readonly #numbers: Float64Array | number[];
  /** Status codes by task; null for one task, whose code is a fifth number in #numbers (no second array per tiny apply, which lives as long as its task). */
  readonly #status: Uint8Array | number[] | null;
  /** Made on the first rare field: most calls have none. */
  #rare: Map<number, Rare> | undefined;
  #objects: TaskMetadata[] | undefined;
  #byId: Map<string, number> | undefined;

  constructor({ msgIds, kind, submitted, label, engineIds }: { msgIds: readonly string[] | MessageIdBlock; kind: TaskKind; submitted: number; label?: string | undefined; engineIds?: readonly (number | null)[] }) {
    this.#ids = msgIds;
    this.length = isBlock(msgIds) ? msgIds.count : msgIds.length;
    this.#kind = kind;
    this.submitted = submitted;
    this.label = label;
    // A small call (a tiny apply) gets plain arrays: a typed array costs an ArrayBuffer each, and a
    // thousand applies in flight made the client's young generation churn through them.
    const small = this.length <= SMALL_TABLE;
    // One task (an apply): no fill() call per apply, and Array.of, not a literal: the array lives as long
    // as its task, and V8 pretenuring a literal's allocation site deoptimizes every function that inlined
    // this constructor.
    if (this.length === 1) this.#numbers = Array.of(NaN, NaN, NaN, NaN, 0);
    else this.#numbers = small ? new Array<number>(this.length * COLUMNS).fill(NaN) : new Float64Array(this.length * COLUMNS).fill(NaN);
    if (engineIds) for (let i = 0; i < engineIds.length; i++) this.#numbers[i * COLUMNS + ENGINE] = engineIds[i] ?? NaN;
    this.#status = this.length === 1 ? null : small ? new Array<number>(this.length).fill(0) : new Uint8Array(this.length);
  }

  /** A table with one kind per task given (calls whose tasks differ in kind; small ones). */
  static of(tasks: { msgId: string; kind: TaskKind; engineId: number | null }[], submitted: number, label?: string): TaskTable {
    const msgIds = new Array<string>(tasks.length);
    const engineIds = new Array<number | null>(tasks.length);
    for (let i = 0; i < tasks.length; i++) {
      msgIds[i] = tasks[i]!.msgId;
      engineIds[i] = tasks[i]!.engineId;
    }
    const table = new TaskTable({ msgIds, kind: tasks[0]?.kind ?? "apply", submitted, label, engineIds });
    for (let i = 0; i < tasks.length; i++) if (tasks[i]!.kind !== table.#kind) table.#rareOf(i).kind = tasks[i]!.kind;
    return table;
  }

  /** Every msg id, in task order (spelled out on first use for a block). */
  get msgIds(): readonly string[] {
    if (!this.#idList) {
      const ids = this.#ids;
      if (isBlock(ids)) {
        const list = new Array<string>(ids.count);
        for (let i = 0; i < ids.count; i++) list[i] = messageIdAt(ids, i);
        this.#idList = list;
      } else this.#idList = ids;
    }
    return this.#idList;
  }

  msgId(i: number): string {
    if (this.#idList) return this.#idList[i]!;
    const ids = this.#ids;
    return isBlock(ids) ? messageIdAt(ids, i) : ids[i]!;
  }

  /** The msg ids as they were given: a list, or a block (what a history keeps). */
  get idSource(): readonly string[] | MessageIdBlock {
    return this.#ids;
  }

  /** The index of a msg id in this call, or -1 (for listed ids an index is built on first use). */
  indexOf(msgId: string): number {
    const ids = this.#ids;
    if (isBlock(ids)) return messageIdIndex(ids, msgId);
    if (!this.#byId) {
      this.#byId = new Map();
      for (let i = 0; i < ids.length; i++) this.#byId.set(ids[i]!, i);
    }
    return this.#byId.get(msgId) ?? -1;
  }

  kind(i: number): TaskKind {
    return this.#rare?.get(i)?.kind ?? this.#kind;
  }

  engineId(i: number): number | null {
    const id = this.#numbers[i * COLUMNS + ENGINE]!;
    return Number.isNaN(id) ? null : id;
  }

  status(i: number): TaskStatus | undefined {
    return STATUSES[this.#status === null ? this.#numbers[ONE_STATUS]! : this.#status[i]!];
  }

  started(i: number): number | undefined {
    return defined(this.#numbers[i * COLUMNS + STARTED]!);
  }

  completed(i: number): number | undefined {
    return defined(this.#numbers[i * COLUMNS + COMPLETED]!);
  }

  received(i: number): number | undefined {
    return defined(this.#numbers[i * COLUMNS + RECEIVED]!);
  }

  error(i: number): Error | undefined {
    return this.#rare?.get(i)?.error;
  }

  output(i: number, name: "stdout" | "stderr"): string {
    return this.#rare?.get(i)?.[name] ?? "";
  }

  /** The metadata of one task: the kept object once `all()` built them, else a new one. */
  at(i: number): TaskMetadata {
    return this.#objects?.[i] ?? this.#build(i);
  }

  /** Every task's metadata, as objects kept current from now on. */
  all(): TaskMetadata[] {
    if (!this.#objects) {
      const objects = new Array<TaskMetadata>(this.length);
      for (let i = 0; i < this.length; i++) objects[i] = this.#build(i);
      this.#objects = objects;
    }
    return this.#objects;
  }

  update(i: number, fields: TaskUpdate): void {
    const row = i * COLUMNS;
    if ("engineId" in fields) this.#numbers[row + ENGINE] = fields.engineId ?? NaN;
    if ("started" in fields) this.#numbers[row + STARTED] = fields.started ?? NaN;
    if ("completed" in fields) this.#numbers[row + COMPLETED] = fields.completed ?? NaN;
    if ("received" in fields) this.#numbers[row + RECEIVED] = fields.received ?? NaN;
    if ("status" in fields) this.#setStatus(i, statusCode(fields.status));
    if ("error" in fields) this.#setRare(i, "error", fields.error);
    if ("executionCount" in fields) this.#setRare(i, "executionCount", fields.executionCount);
    if ("repr" in fields) this.#setRare(i, "repr", fields.repr);
    if ("kind" in fields) this.#setRare(i, "kind", fields.kind === this.#kind ? undefined : fields.kind);
    const object = this.#objects?.[i];
    if (object) Object.assign(object, fields);
  }

  /** A result's fields (update() without an object per result: every tiny task comes here). */
  finish(i: number, engineId: number, started: number, completed: number, received: number, status: TaskStatus): void {
    const row = i * COLUMNS;
    this.#numbers[row + ENGINE] = engineId ?? NaN;
    this.#numbers[row + STARTED] = started ?? NaN;
    this.#numbers[row + COMPLETED] = completed ?? NaN;
    this.#numbers[row + RECEIVED] = received;
    this.#setStatus(i, statusCode(status));
    const object = this.#objects?.[i];
    if (object) Object.assign(object, { engineId, started, completed, received, status });
  }

  #setStatus(i: number, code: number): void {
    if (this.#status === null) this.#numbers[ONE_STATUS] = code;
    else this.#status[i] = code;
  }

  appendOutput(i: number, name: "stdout" | "stderr", text: string): void {
    const rare = this.#rareOf(i);
    rare[name] = (rare[name] ?? "") + text;
    const object = this.#objects?.[i];
    if (object) object[name] += text;
  }

  addDisplay(i: number, data: Record<string, unknown>): void {
    const rare = this.#rareOf(i);
    (rare.displays ??= []).push(data);
    const object = this.#objects?.[i];
    if (object && object.displays !== rare.displays) object.displays = rare.displays;
  }

  /** Data the task published (`publishData` on the engine), merged as ipyparallel's dict update: the newest value of each name. */
  mergeData(i: number, data: Record<string, unknown>): void {
    const rare = this.#rareOf(i);
    rare.data = Object.assign(rare.data ?? {}, data);
    const object = this.#objects?.[i];
    if (object) object.data = rare.data;
  }

  /** The task's published data so far (an empty object before any). */
  data(i: number): Record<string, unknown> {
    return this.#rare?.get(i)?.data ?? {};
  }

  #rareOf(i: number): Rare {
    const all = (this.#rare ??= new Map());
    let rare = all.get(i);
    if (!rare) all.set(i, (rare = {}));
    return rare;
  }

  #setRare<K extends keyof Rare>(i: number, key: K, value: Rare[K] | undefined): void {
    if (value === undefined) {
      const rare = this.#rare?.get(i);
      if (rare) delete rare[key];
      return;
    }
    this.#rareOf(i)[key] = value;
  }

  #build(i: number): TaskMetadata {
    const m: TaskMetadata = { msgId: this.msgId(i), kind: this.kind(i), engineId: this.engineId(i), submitted: this.submitted, stdout: this.output(i, "stdout"), stderr: this.output(i, "stderr") };
    const started = this.started(i);
    if (started !== undefined) m.started = started;
    const completed = this.completed(i);
    if (completed !== undefined) m.completed = completed;
    const received = this.received(i);
    if (received !== undefined) m.received = received;
    const status = this.status(i);
    if (status !== undefined) m.status = status;
    const rare = this.#rare?.get(i);
    if (rare?.displays) m.displays = rare.displays;
    if (rare?.data) m.data = rare.data;
    if (rare?.executionCount !== undefined) m.executionCount = rare.executionCount;
    if (rare?.repr !== undefined) m.repr = rare.repr;
    if (rare?.error) m.error = rare.error;
    if (this.label !== undefined) m.label = this.label;
    return m;
  }
}

export function isBlock(ids: readonly string[] | MessageIdBlock): ids is MessageIdBlock {
  return !Array.isArray(ids);
}

function defined(value: number): number | undefined {
  return Number.isNaN(value) ? undefined : value;
}
