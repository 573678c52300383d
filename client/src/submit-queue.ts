import { FunctionTable, type FunctionRef, type TaskBody, type TaskRequest } from "@tsparallel/protocol";
import type { AsyncResult } from "./async-result.js";

/** One task as it leaves: its request and its frames. */
export interface Outgoing {
  request: TaskRequest;
  frames: Buffer[];
}

/**
 * A function travels once per message, in the message's `fns`, with its source; its tasks name it by
 * index (shared-functions.ts). The controller's function cache is bounded, so a source sent in an
 * earlier message may be gone there: sending it with each message is what keeps every task runnable.
 */
function onceper(request: TaskRequest, functions: FunctionTable): TaskRequest {
  const body = request.body;
  if (body.kind !== "apply" && body.kind !== "map") return request;
  // In place: a request is built for the one send (TaskSource.build), while its body may be shared.
  request.body = functions.body(body) as unknown as TaskBody;
  return request;
}

/**
 * The tasks of one call, in order, each built only when it is sent: a map of a million items keeps
 * its items packed in one place (see PackedItems) instead of a request and frames per task.
 */
export interface TaskSource {
  readonly result: AsyncResult<unknown>;
  /** How many tasks (requests); a direct task has one msg id per target engine. */
  readonly count: number;
  /** The index in the result of task j's first msg id. */
  first(j: number): number;
  /** How many msg ids task j has. */
  ids(j: number): number;
  /** Task j's request and frames; called once per task, in order. */
  build(j: number): Outgoing;
  /** How many msg ids in all, when not `first(count - 1) + ids(count - 1)` (some of the call's tasks went direct). */
  readonly msgIdCount?: number;
}

/** Tasks built already (an apply, a direct call): handed out once, then forgotten. */
export class BuiltTasks implements TaskSource {
  readonly #tasks: (Outgoing | undefined)[];
  readonly #firsts: number[];

  /** `firsts`: the index in the result of each task's first msg id, when they do not simply follow each other (some went direct). */
  constructor(
    readonly result: AsyncResult<unknown>,
    tasks: Outgoing[],
    firsts?: readonly number[],
  ) {
    this.#tasks = tasks;
    this.#firsts = new Array<number>(tasks.length + 1);
    this.#firsts[0] = 0;
    for (let j = 0; j < tasks.length; j++) this.#firsts[j + 1] = this.#firsts[j]! + tasks[j]!.request.msgIds.length;
    if (firsts) {
      this.#starts = firsts;
      this.msgIdCount = this.#firsts[tasks.length]!;
    }
  }

  readonly msgIdCount?: number;

  #starts?: readonly number[];

  get count(): number {
    return this.#tasks.length;
  }

  first(j: number): number {
    return this.#starts ? this.#starts[j]! : this.#firsts[j]!;
  }

  ids(j: number): number {
    return this.#firsts[j + 1]! - this.#firsts[j]!;
  }

  build(j: number): Outgoing {
    const task = this.#tasks[j]!;
    this.#tasks[j] = undefined;
    return task;
  }
}

/**
 * One task with one msg id, built already (a load-balanced apply): BuiltTasks without its arrays, and
 * its own Outgoing (no object for the pair per apply). The queue lets go of it once it is sent.
 */
export class OneTask implements TaskSource, Outgoing {
  readonly count = 1;
  /** Said, so the queue's push need not work it out with two calls. */
  readonly msgIdCount = 1;

  constructor(
    readonly result: AsyncResult<unknown>,
    readonly request: TaskRequest,
    readonly frames: Buffer[],
  ) {}

  /** As BuiltTasks: 0 for the task, 1 (the end) past it. */
  first(j: number): number {
    return j;
  }

  ids(): number {
    return 1;
  }

  build(): Outgoing {
    return this;
  }
}

/** What one submit_request carries: the tasks (their bodies name functions by index in `fns`) and their frames. */
export interface Taken {
  tasks: TaskRequest[];
  frames: Buffer[];
  fns?: FunctionRef[];
}

/** A task of this client that was sent: its result and the task's index there. */
export interface SentTask {
  result: AsyncResult<unknown>;
  index: number;
}

/**
 * take()'s entries for the in-flight Map, made with `new` rather than as literals: they live as long as
 * their task, and a literal's allocation site, once V8 decides its objects outlive the young generation,
 * deoptimizes every function that inlined the literal (take, in a fresh client, again and again).
 */
class Sent implements SentTask {
  constructor(
    readonly result: AsyncResult<unknown>,
    readonly index: number,
  ) {}
}

/** A task of this client not sent yet: its result and index there. */
export interface Waiting {
  msgId: string;
  result: AsyncResult<unknown>;
  index: number;
}

interface Entry {
  source: TaskSource;
  next: number;
  /** Tasks taken out by an abort before they were sent. */
  removed?: Set<number>;
}

/**
 * Tasks submitted but not yet sent to the controller, oldest first. The client sends from here only
 * while fewer than its window of tasks are in flight, so a map of a million items never puts a
 * million records (and their arguments) in the controller at once, nor a million requests in the client.
 */
export class SubmitQueue {
  #entries: Entry[] = [];
  #msgIds = 0;

  /** Calls with tasks waiting here. */
  get length(): number {
    return this.#entries.length;
  }

  /** Message ids of the tasks held here. */
  get msgIds(): number {
    return this.#msgIds;
  }

  push(source: TaskSource): void {
    if (source.count === 0) return;
    this.#entries.push({ source, next: 0 });
    this.#msgIds += source.msgIdCount ?? source.first(source.count - 1) + source.ids(source.count - 1);
  }

  /**
   * The oldest tasks, up to `maxMsgIds` message ids (always at least one task), and their frames in
   * order; each msg id that leaves goes into `sent` with its result and index there. A map, not a
   * callback, and indexed loops: a fresh client runs this interpreted for its first thousands of tasks,
   * where a call, a for-of iterator and an object more per task each cost.
   */
  take(maxMsgIds: number, sent: Map<string, SentTask>): Taken {
    const tasks: TaskRequest[] = [];
    const frames: Buffer[] = [];

    let taken = 0;
    // Calls sent whole leave the queue together at the end: shifting them one by one was O(calls)
    // each, O(n²) for n applies submitted at once (100,000 applies spent most of the client's CPU there).
    let sentWhole = 0;
    try {
      while (sentWhole < this.#entries.length) {
        const entry = this.#entries[sentWhole]!;
        const { source } = entry;
        while (entry.next < source.count) {
          const j = entry.next;
          if (entry.removed?.has(j)) {
            entry.next++;
            continue;
          }
          const ids = source.ids(j);
          if (tasks.length > 0 && taken + ids > maxMsgIds) return this.#done(tasks, frames, taken);
          entry.next++;
          const out = source.build(j);
          const request = out.request;
          tasks.push(request);
          const own = out.frames;
          for (let f = 0; f < own.length; f++) frames.push(own[f]!);
          taken += ids;
          const first = source.first(j);
          const msgIds = request.msgIds;
          for (let k = 0; k < ids; k++) sent.set(msgIds[k]!, new Sent(source.result, first + k));
        }
        sentWhole++;
      }
    } finally {
      if (sentWhole) this.#entries.splice(0, sentWhole);
    }
    return this.#done(tasks, frames, taken);
  }

  #done(tasks: TaskRequest[], frames: Buffer[], taken: number): Taken {
    this.#msgIds -= taken;
    // One task (a single apply's round trip) names its function in its body, as it would in fns.
    if (tasks.length < 2) return { tasks, frames };
    const functions = new FunctionTable();
    for (let i = 0; i < tasks.length; i++) tasks[i] = onceper(tasks[i]!, functions);
    return functions.size ? { tasks, frames, fns: functions.fns } : { tasks, frames };
  }

  /** Takes out the tasks with any of these msgIds (all tasks when undefined); returns them. */
  remove(which?: ReadonlySet<string>): Waiting[] {
    const removed: Waiting[] = [];
    for (const entry of this.#entries) {
      const { source } = entry;
      const table = source.result._tasks;
      for (let j = entry.next; j < source.count; j++) {
        if (entry.removed?.has(j)) continue;
        const first = source.first(j);
        const ids = source.ids(j);
        let hit = !which;
        for (let k = 0; k < ids && !hit; k++) hit = which!.has(table.msgId(first + k));
        if (!hit) continue;
        (entry.removed ??= new Set()).add(j);
        for (let k = 0; k < ids; k++) removed.push({ msgId: table.msgId(first + k), result: source.result, index: first + k });
      }
    }
    this.#entries = which ? this.#entries.filter((e) => !allRemoved(e)) : [];
    this.#msgIds -= removed.length;
    return removed;
  }

  /** The task not sent yet with this msg id, if any. */
  find(msgId: string): Waiting | undefined {
    for (const entry of this.#entries) {
      const index = entry.source.result._tasks.indexOf(msgId);
      if (index < 0 || index < entry.source.first(entry.next)) continue;
      return { msgId, result: entry.source.result, index };
    }
    return undefined;
  }

  /** The calls with tasks waiting here. */
  results(): AsyncResult<unknown>[] {
    return this.#entries.map((e) => e.source.result);
  }

  /** Msg ids of every task waiting here. */
  *ids(): Generator<string> {
    for (const entry of this.#entries) {
      const { source } = entry;
      const table = source.result._tasks;
      for (let j = entry.next; j < source.count; j++) {
        if (entry.removed?.has(j)) continue;
        for (let k = 0, first = source.first(j); k < source.ids(j); k++) yield table.msgId(first + k);
      }
    }
  }
}

function allRemoved(entry: Entry): boolean {
  for (let j = entry.next; j < entry.source.count; j++) if (!entry.removed?.has(j)) return false;
  return true;
}
