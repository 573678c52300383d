import { STREAM_MAX_BYTES, type DirectAccepted, type DirectTask, type StreamItem, type TaskResult } from "@tsparallel/protocol";
import type { DirectPeer } from "./direct-stream.js";
import type { QueuedTask } from "./task-queue.js";

/** Who sent a direct task: whom to answer (a ROUTER identity or a stream connection), and its identity at the controller (hex). */
interface Origin {
  peer: DirectPeer;
  client: string;
}

/** Argument frames up to this size go to the controller with the report (kept for resubmit); bigger ones do not. */
const FORWARD_ARGS_BYTES = 1 << 20;
/** Result frames up to this size go too (the task store keeps values up to 16 MiB by default); of bigger ones, the size. */
const FORWARD_RESULT_BYTES = 16 << 20;
/**
 * How long direct tasks and results wait for company before they are reported: the controller then
 * wakes once for many round trips instead of once per task, off the 2 cores the round trips need.
 */
export const REPORT_DELAY_MS = 10;
/** A report this big (entries, or bytes of text and frames, well under the controller's JSON and message limits) leaves at once. */
const REPORT_MAX_ENTRIES = 1024;
const REPORT_MAX_BYTES = 8 << 20;

/**
 * Where each result and stream of a direct task goes: straight to the client that sent it, at once;
 * and to the controller, which keeps the records, in one `direct_report` at most every
 * REPORT_DELAY_MS (after the replies have left), so its bookkeeping is never on the round trip.
 * Tasks that came from the controller go back to it as before.
 */
export class DirectRoutes {
  readonly #origins = new Map<string, Origin>();
  /** Direct tasks whose output went to a stream connection: their results follow it there (order). */
  readonly #streamed = new Set<string>();
  #accepted: DirectAccepted[] = [];
  #acceptedFrames: Buffer[] = [];
  #results: TaskResult[] = [];
  #resultFrames: Buffer[] = [];
  #scheduled = false;
  /** About how big the report is so far (see REPORT_MAX_BYTES). */
  #bytes = 0;
  /** Sizes of result values left out of the report, by msgId. */
  #valueBytes: Record<string, number> | undefined;
  #timer: NodeJS.Timeout | null = null;
  /** Functions whose source the report being gathered carries already (by hash): each goes once per report. */
  #sources = new Set<string>();

  constructor(
    private readonly report: (content: { accepted: DirectAccepted[]; results: TaskResult[]; flushed?: number; valueBytes?: Record<string, number> }, frames: Buffer[]) => void,
  ) {}

  /** Tasks of one direct_request: remembered with their sender, reported to the controller (`now`: at once). */
  accepted(peer: DirectPeer, client: string, tasks: QueuedTask[], now = false): void {
    const origin = { peer, client };
    const submitted = Date.now();
    const sources = this.#sources;
    for (const { task, frames } of tasks) {
      this.#origins.set(task.msgId, origin);
      let bytes = 0;
      for (const frame of frames) bytes += frame.length;
      const forward = bytes <= FORWARD_ARGS_BYTES;
      const told = (task as DirectTask).submitted;
      const entry: DirectAccepted = { msgId: task.msgId, client, body: bodyForReport(task, sources), bufferCount: forward ? frames.length : 0, submitted: typeof told === "number" && Number.isFinite(told) ? told : submitted };
      const label = (task as DirectTask).label;
      if (typeof label === "string") entry.label = label;
      if (!forward) entry.argsDropped = true;
      this.#accepted.push(entry);
      if (forward) for (const frame of frames) this.#acceptedFrames.push(frame);
      this.#bytes += ENTRY_BYTES + (forward ? bytes : 0) + textBytes(entry.body);
    }
    if (now) this.flush();
    else this.#schedule();
  }

  /**
   * Sends the results of direct tasks to their clients and queues them for the report; returns the
   * rest (tasks from the controller) for the controller.
   */
  results(results: TaskResult[], frames: Buffer[]): { results: TaskResult[]; frames: Buffer[] } {
    if (this.#origins.size === 0) return { results, frames };
    if (results.length === 1) {
      // A lone direct result (every direct round trip): no maps or lists of the general case.
      const result = results[0]!;
      const origin = this.#origins.get(result.msgId);
      if (origin) {
        this.#origins.delete(result.msgId);
        this.#reply(origin.peer, { results, frames });
        this.#forReport(result, frames);
        this.#schedule();
        return NOTHING_LEFT;
      }
    }
    const rest: TaskResult[] = [];
    const restFrames: Buffer[] = [];
    const toClients = new Map<DirectPeer, { results: TaskResult[]; frames: Buffer[] }>();
    const direct: TaskResult[] = [];
    const directFrames: Buffer[][] = [];
    let at = 0;
    for (const result of results) {
      const own = result.bufferCount === 0 ? NO_FRAMES : frames.slice(at, at + result.bufferCount);
      at += result.bufferCount;
      const origin = this.#origins.get(result.msgId);
      if (!origin) {
        rest.push(result);
        for (const frame of own) restFrames.push(frame);
        continue;
      }
      this.#origins.delete(result.msgId);
      let batch = toClients.get(origin.peer);
      if (!batch) toClients.set(origin.peer, (batch = { results: [], frames: [] }));
      batch.results.push(result);
      for (const frame of own) batch.frames.push(frame);
      direct.push(result);
      directFrames.push(own);
    }
    // The clients first: the report's bookkeeping is not on the round trip.
    for (const [peer, batch] of toClients) this.#reply(peer, batch);
    for (let i = 0; i < direct.length; i++) this.#forReport(direct[i]!, directFrames[i]!);
    if (toClients.size) this.#schedule();
    return { results: rest, frames: restFrames };
  }

  /** Queues a direct result (answered already) for the controller's report. */
  #forReport(result: TaskResult, own: Buffer[]): void {
    if (this.#bytes >= REPORT_MAX_BYTES) this.flush();
    let valueBytes = 0;
    for (const frame of own) valueBytes += frame.length;
    if (valueBytes > FORWARD_RESULT_BYTES) {
      this.#results.push({ ...result, bufferCount: 0 });
      (this.#valueBytes ??= {})[result.msgId] = valueBytes;
    } else {
      this.#results.push(result);
      for (const frame of own) this.#resultFrames.push(frame);
      this.#bytes += valueBytes;
    }
    this.#bytes += ENTRY_BYTES + (result.stdout?.length ?? 0) + (result.stderr?.length ?? 0) + (result.repr?.length ?? 0) + (result.error ? result.error.evalue.length + result.error.traceback.join("").length : 0);
  }

  /**
   * A big answer to tasks that came by a stream goes over the link's ROUTER side when the client has one
   * (ZeroMQ's I/O thread copies it out, not this loop), unless one of them sent output by the stream.
   */
  #reply(peer: DirectPeer, batch: { results: TaskResult[]; frames: Buffer[] }): void {
    let to = peer;
    if (peer.bulk) {
      let bytes = 0;
      for (const frame of batch.frames) bytes += frame.length;
      let streamed = false;
      if (this.#streamed.size) for (const result of batch.results) if (this.#streamed.delete(result.msgId)) streamed = true;
      if (bytes > STREAM_MAX_BYTES && !streamed) to = peer.bulk() ?? peer;
    }
    to.send("task_reply", { results: batch.results }, batch.frames);
  }

  /**
   * Output of direct tasks goes to their clients at once. The controller gets every item (its records
   * keep the text), after the report of the tasks they belong to.
   */
  streams(items: StreamItem[]): void {
    if (this.#origins.size === 0) return;
    let toClients: Map<DirectPeer, StreamItem[]> | undefined;
    for (const item of items) {
      const origin = this.#origins.get(item.msgId);
      if (!origin) continue;
      toClients ??= new Map();
      if (origin.peer.bulk) this.#streamed.add(item.msgId);
      let list = toClients.get(origin.peer);
      if (!list) toClients.set(origin.peer, (list = []));
      list.push(item);
    }
    if (!toClients) return;
    for (const [peer, list] of toClients) peer.send("stream", { items: list });
    // The controller must know the tasks before it reads their output.
    this.flush();
  }

  /** Sends what the controller has not been told yet; with `token` (its report_request), even if nothing. */
  readonly flush = (token?: number): void => {
    this.#scheduled = false;
    if (this.#accepted.length === 0 && this.#results.length === 0 && typeof token !== "number") return;
    const content: Parameters<DirectRoutes["report"]>[0] = { accepted: this.#accepted, results: this.#results };
    if (typeof token === "number") content.flushed = token;
    if (this.#valueBytes) content.valueBytes = this.#valueBytes;
    this.#valueBytes = undefined;
    const frames = this.#acceptedFrames.length ? this.#acceptedFrames.concat(this.#resultFrames) : this.#resultFrames;
    this.#bytes = 0;
    this.#accepted = [];
    this.#acceptedFrames = [];
    this.#results = [];
    this.#resultFrames = [];
    if (this.#sources.size) this.#sources.clear();
    this.report(content, frames);
  };

  #schedule(): void {
    if (this.#accepted.length + this.#results.length >= REPORT_MAX_ENTRIES || this.#bytes >= REPORT_MAX_BYTES) return this.flush();
    if (this.#scheduled) return;
    this.#scheduled = true;
    // One timer, re-armed (none made per report).
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(() => this.flush(), REPORT_DELAY_MS);
  }
}

const NO_FRAMES: Buffer[] = [];
/** What results() leaves for the controller when every result was a direct one: nobody adds to it. */
const NOTHING_LEFT: { results: TaskResult[]; frames: Buffer[] } = Object.freeze({ results: Object.freeze([]) as unknown as TaskResult[], frames: Object.freeze([]) as unknown as Buffer[] });

/** What an entry's JSON costs beyond its text fields, about. */
const ENTRY_BYTES = 200;

/** Checked loosely: a malformed body fails its task when it runs, not the report. */
function textBytes(body: DirectAccepted["body"]): number {
  const { code, fn } = body as { code?: unknown; fn?: { source?: unknown } };
  return (typeof code === "string" ? code.length : 0) + (typeof fn?.source === "string" ? fn.source.length : 0);
}

/** The task's body for the controller's record: a function's source once per report (the controller keeps sources by hash). */
function bodyForReport(task: QueuedTask["task"], sources: Set<string>): DirectAccepted["body"] {
  const body = task.body;
  if ((body.kind !== "apply" && body.kind !== "map") || typeof body.fn?.source !== "string") return body;
  if (!sources.has(body.fn.hash)) {
    sources.add(body.fn.hash);
    return body;
  }
  return { ...body, fn: { hash: body.fn.hash, name: body.fn.name } };
}
