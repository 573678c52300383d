import { FunctionTable, type EngineTask, type FunctionRef, type MessageContents, type MessageSender, type StreamItem, type TaskBody, type TaskResult } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";
import type { ClientRef } from "./records/task-record.js";

interface EngineBatch {
  engine: EngineRecord;
  tasks: EngineTask[];
  /** Per task, the FunctionRef its engine gets (see task()). */
  fns: (FunctionRef | undefined)[];
  frames: Buffer[];
  aborts: string[];
}

interface ClientBatch {
  identities: Buffer[];
  results: TaskResult[];
  frames: Buffer[];
  streams: StreamItem[];
}

/** A batch's tasks as they travel: bodies with their engine's FunctionRef, named once per message in fns when there are several. */
function wireTasks(tasks: EngineTask[], fns: (FunctionRef | undefined)[]): MessageContents["task_request"] {
  if (tasks.length === 1) {
    const [task] = tasks;
    const fn = fns[0];
    if (fn !== undefined && (task!.body as { fn?: FunctionRef }).fn !== fn) task!.body = { ...task!.body, fn } as TaskBody;
    return { tasks };
  }
  const functions = new FunctionTable();
  // Tasks of one call share their body (a tiny apply's arguments are frames): one wire body for a run of them, not a copy each.
  let body: TaskBody | undefined;
  let fn: FunctionRef | undefined;
  let wire: TaskBody | undefined;
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i]!;
    if (task.body !== body || fns[i] !== fn || wire === undefined) {
      body = task.body;
      fn = fns[i];
      wire = functions.body(body, fn) as unknown as TaskBody;
    }
    task.body = wire;
  }
  return functions.size ? { tasks, fns: functions.fns } : { tasks };
}

function append(into: Buffer[], frames: readonly Buffer[]): void {
  for (const frame of frames) into.push(frame);
}

/**
 * Collects everything produced while handling one incoming message (or one timer) and sends it as
 * ONE message per destination and kind on flush(). Per-message overhead (signing, JSON, syscalls)
 * then amortizes over whole batches of tiny tasks, which is what sustains high task rates.
 */
export class Outbox {
  readonly #engines = new Map<EngineRecord, EngineBatch>();
  readonly #clients = new Map<string, ClientBatch>();

  constructor(
    private readonly engineSender: MessageSender,
    private readonly clientSender: MessageSender,
  ) {}

  /**
   * A task for the engine, its body's function as `fn` (with or without its source: see
   * FunctionCache.functionFor). The function travels once per message (shared-functions.ts).
   */
  task(engine: EngineRecord, msgId: string, body: TaskBody, fn: FunctionRef | undefined, frames: readonly Buffer[]): void {
    const batch = this.#engine(engine);
    batch.tasks.push({ msgId, body, bufferCount: frames.length });
    batch.fns.push(fn);
    append(batch.frames, frames);
  }

  abort(engine: EngineRecord, msgIds: readonly string[]): void {
    for (const id of msgIds) this.#engine(engine).aborts.push(id);
  }

  result(client: ClientRef, result: TaskResult, frames: readonly Buffer[]): void {
    const batch = this.#client(client);
    batch.results.push(result);
    append(batch.frames, frames);
  }

  stream(client: ClientRef, item: StreamItem): void {
    this.#client(client).streams.push(item);
  }

  flush(): void {
    for (const { engine, tasks, fns, frames, aborts } of this.#engines.values()) {
      if (tasks.length) this.engineSender.send("task_request", wireTasks(tasks, fns), { identities: engine.identity, buffers: frames });
      // After the tasks: an abort may name a task of this same batch.
      if (aborts.length) this.engineSender.send("abort_request", { msgIds: aborts }, { identities: engine.identity });
    }
    for (const { identities, results, frames, streams } of this.#clients.values()) {
      // A task queued again after a restart, before any client asked for it: its result waits in the store.
      if (identities.length === 0) continue;
      // Streams first: a task's output should reach the client before its result.
      if (streams.length) this.clientSender.send("stream", { items: streams }, { identities });
      if (results.length) this.clientSender.send("task_reply", { results }, { identities, buffers: frames });
    }
    this.#engines.clear();
    this.#clients.clear();
    this.#lastEngine = undefined;
    this.#lastClient = undefined;
    this.#lastClientKey = undefined;
  }

  // The last batch used: tasks and results come in runs for one engine or client (no Map lookup each).
  #lastEngine: EngineBatch | undefined;
  #lastClient: ClientBatch | undefined;
  #lastClientKey: string | undefined;

  #engine(engine: EngineRecord): EngineBatch {
    if (this.#lastEngine?.engine === engine) return this.#lastEngine;
    let batch = this.#engines.get(engine);
    if (!batch) this.#engines.set(engine, (batch = { engine, tasks: [], fns: [], frames: [], aborts: [] }));
    return (this.#lastEngine = batch);
  }

  #client(client: ClientRef): ClientBatch {
    if (this.#lastClientKey === client.key) return this.#lastClient!;
    let batch = this.#clients.get(client.key);
    if (!batch) this.#clients.set(client.key, (batch = { identities: client.identities, results: [], frames: [], streams: [] }));
    this.#lastClientKey = client.key;
    return (this.#lastClient = batch);
  }
}
