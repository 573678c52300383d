import { inspect, type InspectOptions } from "node:util";
import { unpackValue, type TaskKind, type TaskStatus } from "@tsparallel/protocol";
import { CompositeError, TimeoutError } from "./errors.js";
import { progressHooks, progressLine, type ProgressInfo } from "./progress.js";
import type { TaskTable } from "./task-table.js";
import { taskTimeline, type Timeline } from "./timeline.js";

/** What is known about one task: where and when it ran, and what it printed. */
export interface TaskMetadata {
  msgId: string;
  kind: TaskKind;
  engineId: number | null;
  /** Epoch milliseconds: submitted on the client's clock, started/completed on the engine's. */
  submitted: number;
  started?: number;
  completed?: number;
  received?: number;
  status?: TaskStatus;
  stdout: string;
  stderr: string;
  /** Rich outputs the task displayed (`display(...)` on the engine), in order. */
  displays?: Record<string, unknown>[];
  /** What the task published (`publishData({...})` on the engine), merged: the newest value of each name. */
  data?: Record<string, unknown>;
  executionCount?: number;
  repr?: string;
  error?: Error;
  /** The label of the view or call that submitted the task. */
  label?: string;
}

export interface OutputEvent {
  msgId: string;
  index: number;
  engineId: number;
  name: "stdout" | "stderr" | "display";
  text: string;
  /** For "display": the MIME bundle. */
  data?: Record<string, unknown>;
}

/** Where displayOutputs writes: process.stdout by default, or anything with write(text). */
export interface TextSink {
  write(text: string): unknown;
}

/** What an AsyncResult needs from its client: aborting its tasks, and values left at the controller. */
export interface TaskOwner {
  abort(msgIds: string[]): Promise<unknown>;
  /** The value of a task whose result stayed at the controller (other tasks took it as an argument). */
  _fetchValue?(msgId: string): Promise<unknown>;
  /** Whether the task was handed to the controller (not held back for its dependencies). */
  _submitted?(msgId: string): boolean;
}

type Finish<T> = (values: unknown[]) => T;

/** A result's value with errors allowed in place of values: per item of an array, or the value itself. */
export type WithErrors<T> = T extends (infer E)[] ? (E | Error)[] : T | Error;

/**
 * The result of tasks in flight. Thenable, so `await ar` waits for all of them; otherwise it never
 * blocks. Results and output arrive per task as the controller relays them.
 */
export class AsyncResult<T> implements PromiseLike<T> {
  /** @internal What is known about each task, in columns (see TaskTable). */
  readonly _tasks: TaskTable;
  /** Values by task index, made at the first result (a map folds its values elsewhere: see `store`). */
  protected values: unknown[] | undefined;
  /** Task indexes in the order their results arrived; kept only for whoever iterates in that order. */
  protected arrivals: number[] | undefined;
  #done = 0;
  /** Per task, 1 once settled; null for one task (settled once #done is 1): no array per tiny apply, which lives as long as its task. */
  readonly #settledFlags: Uint8Array | number[] | null;
  // Created only when someone waits: thousands of tiny results must not cost a promise each up front.
  #allDone: (() => void) | undefined;
  #settledPromise: Promise<void> | undefined;
  #final: Promise<T> | undefined;
  /**
   * Settle #final when the last task settles (set while someone awaits a result not ready yet). Two
   * fields, not a pair object: thousands of tiny applies awaited together each made one.
   */
  #resolveFinal: ((value: unknown) => void) | undefined;
  #rejectFinal: ((reason: unknown) => void) | undefined;
  #outputListeners: Set<(event: OutputEvent) => void> | undefined;
  #arrivalListeners: Set<() => void> | undefined;
  #progressListeners: Set<() => void> | undefined;
  #failures = 0;
  #awaited = false;
  /** Tasks whose value stayed at the controller: fetched only when someone asks for the value. */
  #held: Set<number> | undefined;

  /**
   * When set (ipyparallel's `return_exceptions`), awaiting and iterating give each failed task's error
   * in its place instead of throwing.
   */
  readonly returnExceptions: boolean;

  constructor(
    protected readonly owner: TaskOwner,
    tasks: TaskTable,
    private readonly finish: Finish<T>,
    options?: { returnExceptions?: boolean },
  ) {
    // No destructuring default: it made an empty object per tiny apply.
    this.returnExceptions = options?.returnExceptions ?? false;
    this._tasks = tasks;
    // A plain array for a small call (none for one task): an ArrayBuffer per tiny apply was a large part of the client's garbage.
    this.#settledFlags = tasks.length === 1 ? null : tasks.length <= 16 ? new Array<number>(tasks.length).fill(0) : new Uint8Array(tasks.length);
    progressHooks()?.created?.(this);
  }

  get msgIds(): readonly string[] {
    return this._tasks.msgIds;
  }

  /**
   * What is known about each task, in task order. Built when first asked for (a big map keeps it in
   * columns until then) and kept current as results arrive.
   */
  get metadata(): TaskMetadata[] {
    return this._tasks.all();
  }

  /** The error of task `index`, if it failed. */
  protected errorAt(index: number): Error | undefined {
    return this._tasks.error(index);
  }

  #settled(): Promise<void> {
    if (this.ready()) return Promise.resolve();
    this.#settledPromise ??= new Promise((resolve) => (this.#allDone = resolve));
    return this.#settledPromise;
  }

  /** Number of tasks finished. */
  get progress(): number {
    return this.#done;
  }

  /** Number of finished tasks that failed. */
  get failures(): number {
    return this.#failures;
  }

  /** Done, failed and total counts, elapsed time, rate and ETA: what a progress display shows. */
  progressInfo(): ProgressInfo {
    const ready = this.ready();
    const end = ready ? this.#lastEnd() : Date.now();
    const elapsedMs = this.length === 0 ? 0 : Math.max(0, end - this._tasks.submitted);
    const rate = elapsedMs > 0 ? (this.#done * 1000) / elapsedMs : 0;
    const etaMs = ready || rate === 0 ? undefined : ((this.length - this.#done) * 1000) / rate;
    return { done: this.#done, failed: this.#failures, total: this.length, elapsedMs, rate, etaMs, ready };
  }

  /** Called synchronously as each task finishes. Returns an unsubscribe function. */
  onProgress(listener: () => void): () => void {
    (this.#progressListeners ??= new Set()).add(listener);
    return () => this.#progressListeners?.delete(listener);
  }

  /**
   * Shows the progress until every task is done (ipyparallel's `wait_interactive`): in a notebook an
   * updating display, elsewhere one line on stdout at the end.
   */
  async display({ stdout = process.stdout }: { stdout?: TextSink } = {}): Promise<void> {
    const show = progressHooks()?.display;
    if (show) return show(this);
    await this.wait();
    stdout.write(`${progressLine(this.progressInfo())}\n`);
  }

  get length(): number {
    return this._tasks.length;
  }

  ready(): boolean {
    return this.#done === this._tasks.length;
  }

  /** True when every task finished without error (throws while not ready). */
  successful(): boolean {
    if (!this.ready()) throw new Error("the result is not ready yet");
    return this.#failures === 0;
  }

  /** Resolves true when all tasks finished, false when `timeoutMs` passed first. */
  async wait(timeoutMs?: number): Promise<boolean> {
    if (this.ready()) return true;
    if (timeoutMs === undefined) {
      await this.#settled();
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs))));
    try {
      return await Promise.race([this.#settled().then(() => true as const), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The value; throws TimeoutError if not ready within `timeoutMs`, or the remote error(s) unless
   * `returnExceptions`, which puts each failed task's error in its place.
   */
  async get(timeoutMs?: number): Promise<T>;
  async get(timeoutMs: number | undefined, options: { returnExceptions: true }): Promise<WithErrors<T>>;
  async get(timeoutMs?: number, options: { returnExceptions?: boolean } = {}): Promise<T | WithErrors<T>> {
    if (!(await this.wait(timeoutMs))) {
      throw new TimeoutError(`${this.length - this.#done} of ${this.length} tasks not done after ${timeoutMs} ms`);
    }
    if (options.returnExceptions && !this.returnExceptions) {
      await this.#fetchHeld();
      return this.finish(this.withErrors()) as WithErrors<T>;
    }
    return this.#result();
  }

  then<A = T, B = never>(onFulfilled?: ((value: T) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    if (!this.#awaited && !this.ready()) {
      this.#awaited = true;
      progressHooks()?.awaited?.(this);
    }
    return this.#result().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#result().catch(onRejected);
  }

  /**
   * The final value (or error), computed once. Awaited before it is ready, it is one promise settled
   * by the last result (see #finishFinal): a chain of three per call was most of a tiny apply's promises.
   */
  #result(): Promise<T> {
    if (this.#final) return this.#final;
    if (this.ready()) this.#final = this.#fetchHeld().then(() => this.#collect());
    else {
      this.#final = new Promise<T>((resolve, reject) => {
        this.#resolveFinal = resolve as (value: unknown) => void;
        this.#rejectFinal = reject;
      });
    }
    return this.#final;
  }

  /** Every task settled: the awaited final value, unless values left at the controller must be fetched first. */
  #finishFinal(): void {
    const resolve = this.#resolveFinal;
    const reject = this.#rejectFinal;
    if (!resolve || !reject) return;
    this.#resolveFinal = undefined;
    this.#rejectFinal = undefined;
    if (this.#held?.size) {
      this.#fetchHeld().then(() => this.#collect()).then(resolve, reject);
      return;
    }
    try {
      resolve(this.#collect());
    } catch (err) {
      reject(err);
    }
  }

  /** Aborts the tasks that have not started yet; they fail with TaskAbortedError. */
  async abort(): Promise<void> {
    const pending: string[] = [];
    for (let i = 0; i < this.length; i++) if (!this.isSettled(i)) pending.push(this._tasks.msgId(i));
    if (pending.length) await this.owner.abort(pending);
  }

  /**
   * The results keyed by engine id (ipyparallel's `get_dict`): one task's value per engine. Throws
   * RangeError when several tasks ran on one engine (a load-balanced map, say), as there is no one value.
   */
  async getDict<V = unknown>(timeoutMs?: number): Promise<Record<number, V>> {
    await this.get(timeoutMs);
    const dict: Record<number, V> = {};
    const engineIds = this.engineIds;
    engineIds.forEach((id, i) => {
      if (id === null) throw new Error(`task ${this._tasks.msgId(i)} has no engine`);
      if (Object.hasOwn(dict, id)) throw new RangeError(`cannot build a dict: ${engineIds.filter((e) => e === id).length} tasks ran on engine ${id}`);
      dict[id] = this.values?.[i] as V;
    });
    return dict;
  }

  /**
   * Prints what the tasks printed, each line block prefixed `[stdout:<engine>]` / `[stderr:<engine>]`
   * (ipyparallel's `display_outputs`): grouped by type (all stdout, then all stderr) or by engine.
   */
  displayOutputs({ groupby = "type", stdout = process.stdout, stderr = process.stderr }: { groupby?: "type" | "engine"; stdout?: TextSink; stderr?: TextSink } = {}): void {
    const tasks = this._tasks;
    const show = (sink: TextSink, name: "stdout" | "stderr", i: number) => {
      const text = tasks.output(i, name);
      if (text) sink.write(`[${name}:${tasks.engineId(i) ?? "?"}] ${text}${text.endsWith("\n") ? "" : "\n"}`);
    };
    if (groupby === "engine") {
      for (let i = 0; i < tasks.length; i++) {
        show(stdout, "stdout", i);
        show(stderr, "stderr", i);
      }
      return;
    }
    for (let i = 0; i < tasks.length; i++) show(stdout, "stdout", i);
    for (let i = 0; i < tasks.length; i++) show(stderr, "stderr", i);
  }

  /** Output per task, in task order (one entry per msgId, as ipyparallel's ar.stdout). */
  get stdout(): string[] {
    return this.#column((i) => this._tasks.output(i, "stdout"));
  }

  get stderr(): string[] {
    return this.#column((i) => this._tasks.output(i, "stderr"));
  }

  /**
   * Data published per task, in task order (ipyparallel's `ar.data`): each task's `publishData({...})`
   * calls merged into one object, the newest value of each name; `{}` before any. Current while the
   * tasks run, and complete once they are done (data travels ahead of its task's result).
   */
  get data(): Record<string, unknown>[] {
    return this.#column((i) => this._tasks.data(i));
  }

  /** Engine ids per task, as ipyparallel's ar.engine_id. */
  get engineIds(): (number | null)[] {
    return this.#column((i) => this._tasks.engineId(i));
  }

  #column<V>(of: (index: number) => V): V[] {
    const out = new Array<V>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = of(i);
    return out;
  }

  /** The latest time a task ended (received, else completed), or now for one still running. */
  #lastEnd(): number {
    const tasks = this._tasks;
    const now = Date.now();
    let end = -Infinity;
    for (let i = 0; i < tasks.length; i++) {
      const ended = tasks.received(i) ?? tasks.completed(i) ?? now;
      if (ended > end) end = ended;
    }
    return end;
  }

  /** Milliseconds from the first submission to the last completion (or to now, while running). */
  get wallTime(): number {
    return this.#lastEnd() - this._tasks.submitted;
  }

  /** Milliseconds of engine time, summed over the tasks. */
  get serialTime(): number {
    const tasks = this._tasks;
    let sum = 0;
    for (let i = 0; i < tasks.length; i++) {
      const started = tasks.started(i);
      const completed = tasks.completed(i);
      if (started !== undefined && completed !== undefined) sum += completed - started;
    }
    return sum;
  }

  /** The tasks as bars per engine over time: a Vega-Lite chart a notebook shows as the cell's result. */
  timeline(): Timeline {
    return taskTimeline(this.metadata);
  }

  /** Live output from the engines while the tasks run. Returns an unsubscribe function. */
  onOutput(listener: (event: OutputEvent) => void): () => void {
    (this.#outputListeners ??= new Set()).add(listener);
    return () => this.#outputListeners?.delete(listener);
  }

  /** Yields each task's value in task order as soon as it (and those before it) are in. */
  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    for (let i = 0; i < this.length; i++) {
      while (!this.isSettled(i)) await this.nextArrival();
      if (this.#held?.has(i)) await this.#fetchHeld();
      const error = this.errorAt(i);
      if (error && !this.returnExceptions) throw error;
      yield error ?? this.values?.[i];
    }
  }

  /** The task values with each failed task's error in its place (a map overrides it per item). */
  protected withErrors(): unknown[] {
    const out = new Array<unknown>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.errorAt(i) ?? this.values?.[i];
    return out;
  }

  /** The value of a call once every task settled (a map overrides it: its values are folded already). */
  protected finalValue(): T {
    return this.finish(this.values ?? new Array(this.length).fill(undefined));
  }

  /** Keeps task `index`'s value. */
  protected store(index: number, value: unknown): void {
    // Filled, not holes: a task whose value is undefined stays an `undefined` entry.
    (this.values ??= new Array(this.length).fill(undefined))[index] = value;
  }

  /** @internal Resolves true at the next result to arrive, false if `deadline` (epoch ms) comes first. */
  _nextArrivalBefore(deadline: number): Promise<boolean> {
    if (deadline === Infinity) return this.nextArrival().then(() => true);
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.nextArrival().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())))),
    ]).finally(() => clearTimeout(timer));
  }

  /** Shows what the tasks are, how far they got and where they run, as ipyparallel's repr does. */
  [inspect.custom](_depth: number, options: InspectOptions, show: typeof inspect): string {
    const status = !this.ready() ? "pending" : this.#failures > 0 ? "error" : "ok";
    const kindSet = new Set<string>();
    const engineSet = new Set<number>();
    for (let i = 0; i < this.length; i++) {
      kindSet.add(this._tasks.kind(i));
      const id = this._tasks.engineId(i);
      if (id !== null) engineSet.add(id);
    }
    const kinds = [...kindSet].join(", ");
    const engines = [...engineSet].sort((a, b) => a - b);
    const failed = this.#failures;
    const state = { kind: kinds, status, done: `${this.#done}/${this.length}`, pending: this.length - this.#done, ...(failed ? { failed } : {}), engines };
    return `${this.constructor.name} ${show(state, options)}`;
  }

  /** @internal */
  _isSettled(index: number): boolean {
    return this.isSettled(index);
  }

  protected isSettled(index: number): boolean {
    const flags = this.#settledFlags;
    return flags === null ? index === 0 && this.#done > 0 : flags[index] === 1;
  }

  protected nextArrival(): Promise<void> {
    return new Promise((resolve) => {
      const listener = () => {
        this.#arrivalListeners?.delete(listener);
        resolve();
      };
      (this.#arrivalListeners ??= new Set()).add(listener);
    });
  }

  /** @internal How the client reads a task's value frames for this result (a map reads its chunks in raw form). */
  _unpack(frames: Buffer[]): unknown {
    return unpackValue(frames);
  }

  /** @internal Called by the client as each task's result arrives (its metadata already updated). */
  _settle(index: number, value: unknown, error: Error | undefined): void {
    const flags = this.#settledFlags;
    if (flags === null) {
      if (index !== 0 || this.#done > 0) return;
    } else {
      if (flags[index]) return;
      flags[index] = 1;
    }
    if (error) {
      if (this._tasks.error(index) !== error) this._tasks.update(index, { error });
    } else if (value !== undefined) this.store(index, value);
    this.arrivals?.push(index);
    this.#done++;
    if (error) this.#failures++;
    if (this.#progressListeners?.size) {
      for (const listener of [...this.#progressListeners]) {
        try {
          listener();
        } catch {
          // A display that fails must not cost anyone their result.
        }
      }
    }
    if (this.#arrivalListeners?.size) for (const listener of [...this.#arrivalListeners]) listener();
    if (this.ready()) {
      this.#allDone?.();
      this.#finishFinal();
    }
  }

  /** @internal The task succeeded; its value stayed at the controller, as other tasks took it as an argument. */
  _settleHeld(index: number): void {
    if (this.isSettled(index)) return;
    (this.#held ??= new Set()).add(index);
    this._settle(index, undefined, undefined);
  }

  /**
   * @internal What an AsyncResult passed as an argument travels as: its value when it is here (as
   * awaiting gives it), "remote" when the controller has it or will, "unsent" while the task is held
   * back in the client. Throws for a result whose awaited value is not its one task's value.
   */
  _localValue(): { value: unknown } | "remote" | "unsent" {
    const probe = {};
    if (this.msgIds.length !== 1 || this.finish([probe]) !== probe) {
      throw new TypeError("only the result of one task whose value is that task's value (apply on a load-balanced view or on one engine) can be an argument: await this one first");
    }
    if (this.isSettled(0)) return this.errorAt(0) || this.#held?.has(0) ? "remote" : { value: this.values?.[0] };
    // A result whose owner is not a client (one held back for its dependencies) has not been sent.
    return this.owner._submitted?.(this.msgIds[0]!) === true ? "remote" : "unsent";
  }

  async #fetchHeld(): Promise<void> {
    if (!this.#held?.size) return;
    for (const index of [...this.#held]) {
      try {
        if (!this.owner._fetchValue) throw new Error("the value stayed at the controller and this result's owner cannot fetch it");
        this.store(index, await this.owner._fetchValue(this.msgIds[index]!));
      } catch (err) {
        if (!this.errorAt(index)) this.#failures++;
        this._tasks.update(index, { error: err as Error });
      }
      this.#held.delete(index);
    }
  }

  /** @internal Called by the client for live output. */
  _output(event: OutputEvent): void {
    if (this.#outputListeners) for (const listener of this.#outputListeners) listener(event);
  }

  #collect(): T {
    if (this.returnExceptions) return this.finish(this.withErrors());
    if (this.#failures > 0) {
      const failed: Error[] = [];
      for (let i = 0; i < this.length; i++) {
        const error = this.errorAt(i);
        if (error) failed.push(error);
      }
      if (this.length === 1) throw failed[0];
      throw new CompositeError(failed, this.length);
    }
    return this.finalValue();
  }
}
