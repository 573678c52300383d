import { RateLimitedWarnings, resolveFunctions, splitFrames, type DirectAccepted, type FunctionRef, type Logger, type StreamItem, type TaskRequest, type TaskBody, type TaskResult, type TaskStatus } from "@tsparallel/protocol";
import type { EngineRecord } from "./engine-record.js";
import type { EngineRegistry } from "./engines-registry.js";
import { controllerResult, NO_ENGINE } from "./failures.js";
import { FutureWaits, WaitingTask } from "./futures.js";
import { Gather, type HeldResult } from "./gather.js";
import type { FunctionCache } from "./function-cache.js";
import { LoadBalancer } from "./load-balancer.js";
import { durationKey, type WindowMode } from "./task-durations.js";
import type { Outbox } from "./outbox.js";
import { BalancedState, ClientRef, TaskRecord, TaskWork } from "./records/task-record.js";
import type { TaskRecords } from "./records/task-records.js";
import type { Scheduler } from "./schedulers/index.js";
import type { PendingRetry, TaskStore } from "./store/task-store.js";
import { Slice } from "./slice.js";
import { taskProblem } from "./validate.js";

/** What the router tells the event publisher. */
export interface TaskEvents {
  taskCompleted(record: TaskRecord): void;
  /** Something a snapshot shows moved. */
  changed(): void;
}

export class SubmitError extends Error {
  override name = "SubmitError";
}

const RESULT_STATUSES = new Set<TaskStatus>(["ok", "error", "aborted"]);
const STREAM_NAMES: ReadonlySet<unknown> = new Set<StreamItem["name"]>(["stdout", "stderr", "display", "data"]);

/**
 * Moves tasks: client submissions to engines (directly or through the load balancer), engine results
 * and output back to the submitting client, and the tasks of lost engines to retries or failures.
 * Everything goes through the outbox; the caller flushes it once per handled message.
 */
/** What became of a task whose result another task takes as an argument. */
type Outcome = { frames: Buffer[] } | { failure: string };

export class TaskRouter {
  readonly balancer: LoadBalancer;
  readonly #waits = new FutureWaits();
  /** Direct tasks that held tasks wait for and no engine has reported yet: msgId -> the engine it was sent to. */
  readonly #unreported = new Map<string, number>();

  /** One line per client per interval about refused functions, however many it sends. */
  #refusals?: RateLimitedWarnings;

  constructor(
    private readonly registry: EngineRegistry,
    private readonly records: TaskRecords,
    private readonly functions: FunctionCache,
    private readonly outbox: Outbox,
    private readonly events: TaskEvents,
    scheduler: Scheduler,
    hwm: number,
    windowMode: WindowMode,
    private readonly log: Logger,
    private readonly store: TaskStore,
  ) {
    this.balancer = new LoadBalancer(registry, scheduler, hwm, {
      assign: (record, engine) => this.#send(record, engine),
      expired: (record) => {
        this.#fail(record, "TimeoutError", `no engine took this task within ${record.lb?.timeoutMs ?? "its"} ms`);
        this.#flushOut();
      },
    }, windowMode);
  }

  /** What leaves outside a handled message: the store first, as the controller does after each message. */
  #flushOut(): void {
    this.store.flushFinished();
    this.outbox.flush();
  }

  /**
   * Throws SubmitError when the request as a whole is malformed; nothing of it is then run. A big
   * submission is taken in slices: what is accepted so far is placed and sent before the loop yields.
   */
  async submit(client: ClientRef, tasks: unknown, frames: Buffer[], fns?: unknown): Promise<void> {
    if (!Array.isArray(tasks)) throw new SubmitError("submit_request needs a tasks array");
    const counts = new Array<number>(tasks.length);
    for (let i = 0; i < tasks.length; i++) {
      const t: unknown = tasks[i];
      counts[i] = t !== null && typeof t === "object" ? (t as TaskRequest).bufferCount : NaN;
    }
    let groups: Buffer[][];
    // Fractional: history is in submission order, and direct tasks (stamped by their clients, see directReport) interleave with these.
    const now = performance.timeOrigin + performance.now();
    try {
      const unresolved = resolveFunctions(tasks, fns);
      if (unresolved) throw new SubmitError(unresolved);
      groups = splitFrames(frames, counts);
    } catch (err) {
      this.#rejectAll(client, tasks, `the submission was refused: ${(err as Error).message}`, now);
      throw new SubmitError((err as Error).message);
    }
    const slice = new Slice();
    const carried = new Map<string, string>();
    const accepted = new Map<string, FunctionRef>();
    for (let i = 0; i < tasks.length; i++) {
      this.#submitOne(client, tasks[i], groups[i]!, now, carried, accepted);
      if (slice.due()) {
        this.balancer.place();
        this.#flushOut();
        await slice.yield();
      }
    }
    this.balancer.place();
    this.events.changed();
  }

  /** Results from an engine: forwarded to their clients unless the engine no longer holds the task. */
  results(engine: EngineRecord, results: unknown, frames: Buffer[]): void {
    // Checked and counted in one pass, and handled in a plain loop: this runs for every result of every
    // task, and a fresh controller runs it unoptimized for its first thousands (closures cost there).
    if (!Array.isArray(results)) {
      this.log.warn(`engine ${engine.id} sent a malformed task_reply; dropped`);
      return;
    }
    const counts = new Array<number>(results.length);
    for (let i = 0; i < results.length; i++) {
      const result: unknown = results[i];
      if (!isResult(result)) {
        this.log.warn(`engine ${engine.id} sent a malformed task_reply; dropped`);
        return;
      }
      counts[i] = result.bufferCount;
    }
    let groups: Buffer[][];
    try {
      groups = splitFrames(frames, counts);
    } catch (err) {
      this.log.warn(`engine ${engine.id} sent a task_reply whose frames do not match (${(err as Error).message}); dropped`);
      return;
    }
    const now = Date.now();
    let dropped = 0;
    for (let i = 0; i < results.length; i++) {
      const result = results[i] as TaskResult;
      const record = this.records.get(result.msgId);
      // A dead engine's late result, or one for a task handed elsewhere: delivering it would duplicate.
      if (!record || !engine.alive || !engine.release(record, now)) {
        dropped++;
        continue;
      }
      engine.completed++;
      if (result.status !== "ok") engine.failed++;
      if (record.lb) this.balancer.observe(record, result.completed - result.started);
      if (result.status === "error" && this.#retryAfterError(record, engine.id)) continue;
      this.#complete(record, result.engineId === engine.id ? result : { ...result, engineId: engine.id }, groups[i]!);
    }
    if (dropped) this.log.info(`dropped ${dropped} result(s) from engine ${engine.id} for tasks it no longer holds`);
    this.balancer.place();
    this.events.changed();
  }

  /**
   * What an engine reports of the direct tasks clients sent it (DirectView's direct path): each becomes
   * a record held by that engine, so history, result requests, the store, the task stream, queue status,
   * abort and the engine's death see it as a routed task; each result finishes its record as a routed
   * one would, but is not sent to the client (the engine did that first).
   */
  directReport(engine: EngineRecord, content: unknown, frames: Buffer[]): void {
    const { accepted, results, valueBytes } = (content ?? {}) as { accepted?: unknown; results?: unknown; valueBytes?: Record<string, unknown> };
    if (!Array.isArray(accepted) || !Array.isArray(results) || !allOf(accepted, isAccepted) || !allOf(results, isResult)) {
      this.log.warn(`engine ${engine.id} sent a malformed direct_report; dropped`);
      return;
    }
    // Plain loops, no closures per report: a fresh controller runs this path unoptimized for its first reports.
    const counts = new Array<number>(accepted.length + results.length);
    for (let i = 0; i < accepted.length; i++) counts[i] = accepted[i]!.bufferCount;
    for (let i = 0; i < results.length; i++) counts[accepted.length + i] = results[i]!.bufferCount;
    let groups: Buffer[][];
    try {
      groups = splitFrames(frames, counts);
    } catch (err) {
      this.log.warn(`engine ${engine.id} sent a direct_report whose frames do not match (${(err as Error).message}); dropped`);
      return;
    }
    const now = Date.now();
    if (accepted.length) engine.directUsed = true;
    // One ClientRef per client a report names (its tasks share it, as a routed message's tasks do).
    let client: ClientRef | undefined;
    for (let i = 0; i < accepted.length; i++) {
      const entry = accepted[i]!;
      if (client?.key !== entry.client) client = directClient(entry.client, engine.id);
      this.#acceptDirect(engine, entry, client, groups[i]!, now);
    }
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      const record = this.records.get(result.msgId);
      if (!record?.direct || !engine.release(record, now)) continue;
      engine.completed++;
      if (result.status !== "ok") engine.failed++;
      const left = valueBytes && typeof valueBytes === "object" && Object.hasOwn(valueBytes, result.msgId) ? valueBytes[result.msgId] : undefined;
      this.#complete(record, result.engineId === engine.id ? result : { ...result, engineId: engine.id }, groups[accepted.length + i]!, false, typeof left === "number" ? left : undefined);
    }
    // Tasks that took these results may be ready now.
    this.balancer.place();
    this.events.changed();
  }

  #acceptDirect(engine: EngineRecord, entry: DirectAccepted, client: ClientRef, frames: Buffer[], now: number): void {
    if (this.records.get(entry.msgId)) return;
    if (this.#unreported.size) this.#unreported.delete(entry.msgId);
    const request = { msgIds: [entry.msgId], targets: [engine.id], body: entry.body, bufferCount: frames.length, ...(entry.label !== undefined ? { label: entry.label } : {}) };
    const problem = taskProblem(request);
    const kind = problem === undefined ? entry.body.kind : "execute";
    const record = new TaskRecord(entry.msgId, client, kind, Number.isFinite(entry.submitted) ? entry.submitted : now);
    record.direct = true;
    if (problem === undefined && entry.label !== undefined) record.label = entry.label;
    const body = problem === undefined ? this.functions.accept(entry.body) : undefined;
    // Kept for resubmit as a routed task's are, unless the engine left big arguments out or the function is unknown here.
    const work: TaskWork | undefined = body && !("ename" in body) && !entry.argsDropped ? new TaskWork(body, frames) : undefined;
    if (problem === undefined) {
      record.streamInfo = taskLabel(entry.body);
      record.streamIndex = streamIndexOf(entry.body);
    }
    if (!this.#add(record, work)) return;
    if (!engine.alive) {
      // Reported by an engine declared dead meanwhile: its client failed the task when it heard.
      this.#complete(record, controllerResult(record.msgId, engine.id, "EngineError", `engine ${engine.id} was declared dead while running this task`, "error"), [], false);
      return;
    }
    record.engineId = engine.id;
    engine.assign(record, now);
  }

  streams(engine: EngineRecord, items: unknown): void {
    if (!Array.isArray(items)) return;
    for (const item of items as StreamItem[]) {
      if (!item || typeof item.text !== "string" || !STREAM_NAMES.has(item.name)) continue;
      const record = this.records.get(item.msgId);
      if (!record || !engine.alive || !engine.holds(record)) continue;
      // Rich outputs and published data are relayed to the client only; the record keeps the text streams.
      if (item.name === "stdout" || item.name === "stderr") record.appendOutput(item.name, item.text);
      // A direct task's engine streamed to its client itself.
      if (!record.direct) this.outbox.stream(record.client, { msgId: item.msgId, engineId: engine.id, name: item.name, text: item.text });
    }
  }

  /**
   * Runs stored tasks again (load-balanced, with their original balancing options) under the msgIds the
   * client chose. Throws SubmitError, and runs none of them, when any is unknown or has no stored
   * arguments. Returns old msgId -> new msgId.
   */
  resubmit(client: ClientRef, msgIds: unknown, newMsgIds: unknown): Record<string, string> {
    if (!isStrings(msgIds) || !isStrings(newMsgIds) || msgIds.length !== newMsgIds.length) throw new SubmitError("resubmit_request needs msgIds and as many newMsgIds (strings)");
    const seen = new Set<string>();
    const taken = newMsgIds.filter((id) => {
      const inUse = seen.has(id) || this.records.get(id) !== undefined;
      seen.add(id);
      return inUse;
    });
    if (taken.length) throw new SubmitError(`msgId(s) already in use: ${taken.join(", ")}`);
    const requests = msgIds.map((id) => this.store.request(id));
    const missing = msgIds.filter((_, i) => requests[i] === undefined);
    if (missing.length) throw new SubmitError(`no such task(s): ${missing.join(", ")}`);
    const bare = msgIds.filter((_, i) => requests[i] === null);
    if (bare.length) throw new SubmitError(`the arguments of task(s) ${bare.join(", ")} were not stored (over the store's size cap, or forgotten): they cannot be resubmitted`);
    const now = Date.now();
    const resubmitted: Record<string, string> = {};
    msgIds.forEach((msgId, i) => {
      const { body, frames, lb } = requests[i]!;
      // A copy: accepting a body sets its function in place, and this one may be the store's own.
      const task: TaskRequest = { msgIds: [newMsgIds[i]!], targets: null, body: { ...body }, bufferCount: frames.length, ...(lb ? { lb } : {}) };
      this.#submitOne(client, task, frames, now);
      const old = this.records.get(msgId);
      if (old) old.resubmitted = newMsgIds[i]!;
      this.store.resubmitted(msgId, newMsgIds[i]!);
      resubmitted[msgId] = newMsgIds[i]!;
    });
    this.balancer.place();
    this.events.changed();
    return resubmitted;
  }

  /**
   * Queues again the tasks a crashed controller held pending with retries left (one is used up), under
   * their msgIds. Nobody is known to send their results to until a client asks for them (adopt); they
   * wait for engines to rejoin instead of failing for want of one.
   */
  requeueRestored(tasks: readonly PendingRetry[]): void {
    const now = Date.now();
    for (const { msgId, client, body, frames, lb } of tasks) {
      const task: TaskRequest = { msgIds: [msgId], targets: null, body, bufferCount: frames.length, ...(lb ? { lb } : {}) };
      const owner = new ClientRef(`restored:${client}`, []);
      // The store keeps a task's function by hash only: the cache or the store's function table has the source.
      const accepted = this.functions.accept(task.body);
      if ("ename" in accepted) this.#failNew(owner, msgId, body.kind, now, accepted.ename, `${accepted.evalue} (the task was restored from the task store)`);
      else this.#submitBalanced(owner, task, new TaskWork(accepted, frames), now, true);
    }
  }

  /** A task queued again after a restart goes to the first client that asks for it. */
  adopt(msgId: string, client: ClientRef): void {
    const record = this.records.get(msgId);
    if (record?.pending && record.client.identities.length === 0) record.client = client;
  }

  /** A new engine may take waiting tasks. */
  engineJoined(): void {
    this.balancer.place();
  }

  /** The engine died or stopped (its lifecycle is already set): retry or fail what it held. */
  engineLost(engine: EngineRecord, verb: "died" | "stopped"): void {
    this.registry.changed();
    for (const [msgId, engineId] of this.#unreported) {
      if (engineId !== engine.id) continue;
      this.#unreported.delete(msgId);
      const waiters = this.#waits.take(msgId);
      if (!waiters || this.records.get(msgId)) continue;
      for (const [task, i] of waiters) this.#feed(task, i, msgId, { failure: `was sent straight to engine ${engine.id}, which ${verb} before it reported the task` });
    }
    const retries: TaskRecord[] = [];
    for (const record of engine.releaseAll()) {
      const lb = record.lb;
      if (lb && lb.retriesLeft > 0 && record.work) {
        lb.retriesLeft--;
        (lb.excluded ??= new Set()).add(engine.id);
        record.engineId = null;
        retries.push(record);
      } else {
        this.#fail(record, "EngineError", `engine ${engine.id} ${verb} while running this task`, engine.id);
      }
    }
    this.balancer.requeue(retries);
    const noneAlive = this.registry.alive().length === 0;
    for (const record of this.balancer.takeUnplaceable()) {
      if (noneAlive) this.#fail(record, "NoEnginesError", "no engines are left to run this task");
      else this.#fail(record, "EngineError", "none of the engines this task may run on is alive");
    }
    this.balancer.place();
    this.events.changed();
  }

  /**
   * Aborts waiting tasks here and asks engines to abort the queued ones. Without msgIds it means all
   * of the requesting client's tasks (on `targets`, if given). Returns the tasks aborted here; the
   * engines report theirs as results with status "aborted".
   */
  abort(client: ClientRef, msgIds?: string[], targets?: number[]): string[] {
    const onTargets = targets ? new Set(targets) : undefined;
    const aborted: string[] = [];
    const abortHere = (record: TaskRecord): void => {
      if (!this.balancer.remove(record)) return;
      this.#fail(record, "TaskAborted", "aborted before it reached an engine", NO_ENGINE, "aborted");
      aborted.push(record.msgId);
    };
    if (!onTargets) {
      const waiting = msgIds ? msgIds.map((id) => this.#waits.heldTask(id)) : this.#waits.heldFrom(client.key);
      for (const task of waiting) if (task) aborted.push(...this.#abortWaiting(task, "aborted while it waited for the tasks whose results it takes"));
    }
    if (msgIds) {
      for (const msgId of msgIds) {
        const record = this.records.get(msgId);
        if (!record?.pending) continue;
        if (record.lb?.waiting) {
          if (!onTargets) abortHere(record);
          continue;
        }
        const engine = record.engineId === null ? undefined : this.registry.byId(record.engineId);
        if (engine?.holds(record) && (!onTargets || onTargets.has(engine.id))) this.outbox.abort(engine, [msgId]);
      }
    } else {
      if (!onTargets) this.balancer.waitingFrom(client.key).forEach(abortHere);
      const engines = targets ? targets.map((id) => this.registry.byId(id)) : this.registry.alive();
      for (const engine of engines) {
        if (!engine?.alive) continue;
        const mine = engine.held().filter((r) => r.client.key === client.key).map((r) => r.msgId);
        if (mine.length) this.outbox.abort(engine, mine);
      }
    }
    if (aborted.length) this.events.changed();
    return aborted;
  }

  /**
   * The client is gone: its tasks that have not started are aborted, those waiting here now and those
   * queued on engines by an abort_request (the engine reports them aborted; a running task finishes).
   * Returns how many were aborted or asked to abort.
   */
  abortOrphaned(clientKey: string, why: string): number {
    let count = 0;
    for (const task of this.#waits.heldFrom(clientKey)) count += this.#abortWaiting(task, `aborted before it reached an engine: ${why}`).length;
    for (const record of this.balancer.waitingFrom(clientKey)) {
      if (!this.balancer.remove(record)) continue;
      this.#fail(record, "TaskAborted", `aborted before it reached an engine: ${why}`, NO_ENGINE, "aborted");
      count++;
    }
    for (const engine of this.registry.alive()) {
      const mine: string[] = [];
      for (const record of engine.held()) if (record.client.key === clientKey) mine.push(record.msgId);
      if (mine.length === 0) continue;
      this.outbox.abort(engine, mine);
      count += mine.length;
    }
    if (count) {
      this.balancer.place();
      this.events.changed();
    }
    return count;
  }

  #submitOne(client: ClientRef, task: unknown, frames: Buffer[], now: number, carried?: Map<string, string>, accepted?: Map<string, FunctionRef>): void {
    const problem = taskProblem(task);
    const request = task as TaskRequest;
    if (problem) {
      const ids = Array.isArray(request.msgIds) ? request.msgIds.filter((id) => typeof id === "string") : [];
      this.log.warn(`invalid task ${ids.join(",") || "(no msgIds)"}: ${problem}`);
      for (const msgId of ids) this.#failNew(client, msgId, "execute", now, "InvalidTaskError", problem);
      return;
    }
    const body = this.functions.accept(request.body, carried, accepted);
    if ("ename" in body) {
      if (body.ename === "FunctionHashMismatch") {
        this.#refusals ??= new RateLimitedWarnings(this.log);
        this.#refusals.warn(`mismatch/${client.key}`, `refused task(s) ${request.msgIds.slice(0, 3).join(",")} of client ${client.key}: ${body.evalue}`);
      }
      for (const msgId of request.msgIds) this.#failNew(client, msgId, request.body.kind, now, body.ename, body.evalue);
      return;
    }
    const work = new TaskWork(body, frames);
    if (body.kind === "apply" && body.futures) this.#awaitInputs(new WaitingTask(client, request, work, now));
    else this.#place(client, request, work, now);
  }

  #place(client: ClientRef, request: TaskRequest, work: TaskWork, now: number): void {
    if (request.targets === null) this.#submitBalanced(client, request, work, now);
    else this.#submitDirect(client, request, request.targets, work, now);
  }

  /** A task taking other tasks' results: placed once they all succeeded, failed as soon as one failed. */
  #awaitInputs(task: WaitingTask): void {
    this.#waits.holding(task);
    const direct = directInputsOf(task.request);
    task.futures.forEach(([, msgId], i) => {
      if (task.failed) return;
      const source = this.records.get(msgId);
      const engineId = source ? undefined : direct?.get(msgId);
      if (source?.pending || (!source && this.#waits.isHeld(msgId))) this.#waits.add(msgId, task, i);
      else if (engineId !== undefined && this.registry.byId(engineId)?.alive) {
        // Sent straight to that engine, not reported yet: its report (or its death) settles the wait.
        this.#waits.add(msgId, task, i);
        this.#unreported.set(msgId, engineId);
      }
      else this.#feed(task, i, msgId, source && !source.resultsEvicted ? outcomeOf(source) : this.#storedOutcome(msgId));
    });
  }

  /** A task held for its inputs is aborted (its tasks fail as aborted); returns their msgIds. */
  #abortWaiting(task: WaitingTask, why: string): string[] {
    if (task.failed) return [];
    task.failed = true;
    this.#waits.released(task);
    const aborted: string[] = [];
    for (const id of task.request.msgIds) {
      const record = new TaskRecord(id, task.client, "apply", task.now);
      if (!this.#add(record)) continue;
      this.#fail(record, "TaskAborted", why, NO_ENGINE, "aborted");
      aborted.push(id);
    }
    return aborted;
  }

  #storedOutcome(msgId: string): Outcome {
    const stored = this.store.result(msgId);
    if (!stored) return { failure: "is unknown to the controller (never submitted, or forgotten)" };
    if (stored.info.pending) return { failure: "is still queued in the task store but not known as a live task" };
    if (stored.info.status !== "ok") return { failure: failureText(stored.info.status, stored.info.error) };
    if (stored.evicted) return { failure: "succeeded, but its value was not kept (over the controller's size caps): pass the value itself" };
    return { frames: stored.frames };
  }

  #feed(task: WaitingTask, i: number, msgId: string, outcome: Outcome): void {
    if (task.failed) return;
    if ("failure" in outcome) {
      task.failed = true;
      this.#waits.released(task);
      const why = `argument ${task.futures[i]![0]} is the result of task ${msgId}, which ${outcome.failure}`;
      for (const id of task.request.msgIds) this.#failNew(task.client, id, "apply", task.now, "DependencyError", why);
      return;
    }
    if (task.provide(i, outcome.frames)) {
      this.#waits.released(task);
      this.#place(task.client, task.request, task.resolved(), task.now);
    }
  }

  #submitDirect(client: ClientRef, request: TaskRequest, targets: number[], work: TaskWork, now: number): void {
    const gather = request.broadcast && targets.length > 1 ? new Gather((held, fromTimer) => this.#releaseGathered(held, fromTimer)) : undefined;
    targets.forEach((target, i) => {
      const record = new TaskRecord(request.msgIds[i]!, client, work.body.kind, now);
      if (request.label !== undefined) record.label = request.label;
      if (!this.#add(record, work)) return;
      if (gather) {
        record.gather = gather;
        gather.expect();
      }
      const engine = this.registry.byId(target);
      if (!engine) {
        if (this.registry.size === 0) this.#fail(record, "NoEnginesError", "no engines are registered");
        else this.#fail(record, "InvalidTargetError", `there is no engine ${target}`);
      } else if (!engine.alive) {
        this.#fail(record, "EngineError", `engine ${target} is ${engine.lifecycle}`, target);
      } else {
        record.work = work;
        this.#send(record, engine);
      }
    });
    gather?.seal();
  }

  #submitBalanced(client: ClientRef, request: TaskRequest, work: TaskWork, now: number, awaitEngines = false): void {
    const options = request.lb ?? NO_OPTIONS;
    const targets = options.targets ? new Set(options.targets) : undefined;
    const lb = new BalancedState(targets, options.retries ?? 0, options.timeoutMs, durationKey(work.body), options.retryOnError ? true : undefined, options.scheme || undefined);
    const record = new TaskRecord(request.msgIds[0]!, client, work.body.kind, now, lb);
    if (request.label !== undefined) record.label = request.label;
    if (!this.#add(record, work, request.lb)) return;
    record.work = work;
    const unknown = options.targets ? options.targets.filter((id) => !this.registry.byId(id)) : NONE;
    if (unknown.length) this.#fail(record, "InvalidTargetError", `there is no engine ${unknown.join(", ")}`);
    else if (awaitEngines) this.balancer.enqueue(record, options.timeoutMs);
    else if (this.registry.alive().length === 0) this.#fail(record, "NoEnginesError", "no engines are registered");
    // Without targets (a new task excludes no engine yet) any alive engine may take it.
    else if (options.targets && !this.balancer.placeable(record)) this.#fail(record, "EngineError", `none of engines ${options.targets.join(", ")} is alive`);
    else this.balancer.enqueue(record, options.timeoutMs);
  }

  /** A task that threw goes back to the scheduler, away from that engine, while it has retries left. */
  #retryAfterError(record: TaskRecord, engineId: number): boolean {
    const lb = record.lb;
    if (!lb?.retryOnError || lb.retriesLeft <= 0 || !record.work) return false;
    (lb.excluded ??= new Set()).add(engineId);
    // No other engine may take it: its own error stands.
    if (!this.balancer.placeable(record)) return false;
    lb.retriesLeft--;
    record.engineId = null;
    this.balancer.requeue([record]);
    return true;
  }

  #add(record: TaskRecord, work?: TaskWork, lb?: TaskRequest["lb"]): boolean {
    if (this.records.add(record)) {
      // The store keeps each source once (by hash), not in every task: it drops the body's source itself.
      this.store.added(record, work, lb);
      return true;
    }
    this.log.warn(`ignored a task with a msgId already in use: ${record.msgId}`);
    return false;
  }

  #send(record: TaskRecord, engine: EngineRecord): void {
    const work = record.work!;
    if (record.streamInfo === undefined) {
      record.streamInfo = taskLabel(work.body);
      record.streamIndex = streamIndexOf(work.body);
    }
    record.engineId = engine.id;
    engine.assign(record, Date.now());
    this.outbox.task(engine, record.msgId, work.body, this.functions.functionFor(engine, work.body), work.frames);
    // Only a task that may be retried elsewhere still needs its arguments.
    if (!record.lb || record.lb.retriesLeft === 0) record.work = undefined;
  }

  /**
   * `toClient` false: the client has the result already (a direct task's, from its engine).
   * `valueBytes`: the size of a value its engine did not send here (too big to keep: the store notes so).
   */
  #complete(record: TaskRecord, result: TaskResult, frames: Buffer[], toClient = true, valueBytes?: number): void {
    record.finish(result, frames);
    if (valueBytes !== undefined && frames.length === 0) {
      record.resultBytes = valueBytes;
      record.resultsEvicted = true;
    }
    const gather = record.gather;
    if (gather) {
      record.gather = undefined;
      gather.hold({ record, result, frames });
      return;
    }
    this.#deliver(record, result, frames, toClient);
  }

  /** A broadcast's results, together: one store transaction and one message to the client. */
  #releaseGathered(held: HeldResult[], fromTimer: boolean): void {
    for (const { record, result, frames } of held) this.#deliver(record, result, frames);
    if (fromTimer) {
      this.#flushOut();
      this.events.changed();
    }
  }

  #deliver(record: TaskRecord, result: TaskResult, frames: Buffer[], sendIt = true): void {
    const waiters = this.#waits.take(record.msgId);
    let toClient = result;
    if (waiters) {
      const outcome = outcomeOf(record);
      for (const [task, i] of waiters) this.#feed(task, i, record.msgId, outcome);
      // The value went on to the tasks that take it; the client asks for it only if it wants it.
      if (result.status === "ok" && frames.length > 0) toClient = { ...result, bufferCount: 0, held: true };
    }
    this.store.completed(record, frames);
    this.records.completed(record);
    if (sendIt) this.outbox.result(record.client, toClient, toClient.held ? [] : frames);
    this.events.taskCompleted(record);
  }

  #fail(record: TaskRecord, ename: string, evalue: string, engineId = record.engineId ?? NO_ENGINE, status: TaskStatus = "error"): void {
    this.#complete(record, controllerResult(record.msgId, engineId, ename, evalue, status), []);
  }

  /** Every task of a refused submission that names its msgIds fails, so no client waits on it forever. */
  #rejectAll(client: ClientRef, tasks: unknown[], reason: string, now: number): void {
    for (const task of tasks) {
      const { msgIds, body } = (task ?? {}) as Partial<TaskRequest>;
      if (!Array.isArray(msgIds)) continue;
      const kind = typeof body?.kind === "string" && TASK_KINDS.has(body.kind) ? body.kind : "apply";
      for (const msgId of msgIds) if (typeof msgId === "string") this.#failNew(client, msgId, kind, now, "SubmitError", reason);
    }
  }

  #failNew(client: ClientRef, msgId: string, kind: TaskRecord["kind"], now: number, ename: string, evalue: string): void {
    const record = new TaskRecord(msgId, client, kind, now);
    if (this.#add(record)) this.#fail(record, ename, evalue);
  }
}

function failureText(status: TaskStatus | undefined, error: { ename: string; evalue: string } | undefined): string {
  if (status === "aborted") return "was aborted";
  return `failed with ${error ? `${error.ename}: ${error.evalue}` : "an error"}`;
}

function outcomeOf(record: TaskRecord): Outcome {
  if (record.status !== "ok") return { failure: failureText(record.status, record.error) };
  // A direct task's value too big for its engine to report stayed with its client.
  if (record.resultsEvicted && record.resultFrames.length === 0 && record.resultBytes > 0) return { failure: "succeeded, but its value was not kept (over the controller's size caps): pass the value itself" };
  return { frames: record.resultFrames };
}

const NONE: readonly number[] = [];
/** A task without load-balancing options (most): one shared empty set of them, not an object per task. */
const NO_OPTIONS: NonNullable<TaskRequest["lb"]> = Object.freeze({});

const TASK_KINDS: ReadonlySet<string> = new Set(["execute", "apply", "map", "push", "pull", "clear"]);
/** A submission's directInputs, when well formed. */
function directInputsOf(request: TaskRequest): Map<string, number> | undefined {
  const given = request.directInputs;
  if (!Array.isArray(given) || given.length === 0) return undefined;
  const found = new Map<string, number>();
  for (const entry of given) if (Array.isArray(entry) && typeof entry[0] === "string" && Number.isInteger(entry[1])) found.set(entry[0], entry[1]);
  return found;
}

/** A client's routing identity in hex, as connect_reply told it. */
const CLIENT_ID = /^[0-9a-f]{2,512}$/;

/** The ClientRef of a direct task: the client's routing identity when it names one, else the engine's own key. */
function directClient(client: string, engineId: number): ClientRef {
  return CLIENT_ID.test(client) ? new ClientRef(client, [Buffer.from(client, "hex")]) : new ClientRef(`direct:${engineId}`, []);
}

function allOf<T>(values: unknown[], check: (value: unknown) => value is T): values is T[] {
  for (let i = 0; i < values.length; i++) if (!check(values[i])) return false;
  return true;
}

function isAccepted(value: unknown): value is DirectAccepted {
  if (value === null || typeof value !== "object") return false;
  const a = value as DirectAccepted;
  return typeof a.msgId === "string" && a.msgId.length > 0 && typeof a.client === "string" && Number.isInteger(a.bufferCount) && a.bufferCount >= 0 && a.body !== null && typeof a.body === "object";
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

function isResult(value: unknown): value is TaskResult {
  if (value === null || typeof value !== "object") return false;
  const r = value as TaskResult;
  return typeof r.msgId === "string" && Number.isInteger(r.bufferCount) && r.bufferCount >= 0 && RESULT_STATUSES.has(r.status);
}

const functionLabels = new WeakMap<FunctionRef, { name?: string }>();
const NO_LABEL: { name?: string } = Object.freeze({});

/**
 * The function name the task stream shows, shared by the tasks of one function (they share its
 * FunctionRef): records only read it. A map chunk's first index is the record's streamIndex: an object
 * per chunk (every item of a chunkSize-1 map) lived as long as its record, 10,000 finished ones included.
 */
function taskLabel(body: TaskBody): { name?: string } {
  if (body.kind !== "apply" && body.kind !== "map") return NO_LABEL;
  let label = functionLabels.get(body.fn);
  if (!label) functionLabels.set(body.fn, (label = { name: body.fn.name || "anonymous" }));
  return label;
}

function streamIndexOf(body: TaskBody): number | undefined {
  return body.kind === "map" ? body.first : undefined;
}
