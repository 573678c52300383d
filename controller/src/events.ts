import {
  encodeCompact,
  type Message,
  newHeader,
  type ClusterSnapshot,
  type MessageContents,
  type MessageSender,
  type MessageType,
  type Signer,
  type TaskStreamItem,
} from "@tsparallel/protocol";
import type { TaskRecord } from "./records/task-record.js";
import type { TaskEvents } from "./task-router.js";
import type { EventSubscribers } from "./event-subscribers.js";

export interface EventTimings {
  snapshotMs: number;
  /** A snapshot goes out at least this often even when nothing changed. */
  snapshotMaxMs: number;
  heartbeatMs: number;
  /** Most tasks in one task_stream message; older ones beyond it are skipped. */
  maxStreamTasks: number;
}

/** The task stream carries an error's first line, cut to this many characters. */
const MAX_STREAM_ERROR = 200;

export const DEFAULT_EVENT_TIMINGS: EventTimings = { snapshotMs: 250, snapshotMaxMs: 2000, heartbeatMs: 1000, maxStreamTasks: 1000 };

/**
 * The events socket: a ROUTER that sends each event to every subscriber (event-subscribers.ts); a
 * subscriber that does not keep up loses events at the socket's high-water mark, as with PUB. Engine
 * lifecycle events go out at once; snapshots and the task stream are coalesced on a timer so that a
 * busy cluster costs subscribers a few messages a second, not one per task.
 */
export class EventPublisher implements TaskEvents {
  #dirty = true;
  #lastSnapshot = 0;
  /** Finished tasks since the last tick: their items are made at the tick, only for the ones that go out. */
  #completed: TaskRecord[] = [];
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly sender: MessageSender,
    private readonly signer: Signer,
    private readonly snapshot: () => ClusterSnapshot,
    /** Runs on every snapshot tick, before deciding to publish (throughput sampling). */
    private readonly onTick: () => void,
    private readonly subscribers: EventSubscribers,
    private readonly timings: EventTimings = DEFAULT_EVENT_TIMINGS,
  ) {}

  /** Signed once, sent to each subscriber. */
  publish<T extends MessageType>(type: T, content: MessageContents[T]): void {
    if (this.subscribers.size === 0) return;
    const frames = encodeCompact(this.signer, { header: newHeader(type, this.sender.session), content });
    for (const identity of this.subscribers.identities()) this.sender.sendFrames([identity, ...frames]);
  }

  /** A verified message on the events socket: only (un)subscriptions mean anything there. */
  handle(msg: Message): void {
    const identity = msg.identities[msg.identities.length - 1];
    if (!identity) return;
    if (msg.header.msg_type === "events_subscribe") this.subscribers.subscribe(identity);
    else if (msg.header.msg_type === "events_unsubscribe") this.subscribers.unsubscribe(identity);
  }

  changed(): void {
    this.#dirty = true;
  }

  taskCompleted(record: TaskRecord): void {
    if (record.engineId === null) return;
    // The record itself, not an item: past maxStreamTasks a tick sends only the newest, so at tens of
    // thousands of tasks a second most would be made for nothing (a finished record no longer changes).
    this.#completed.push(record);
    const cap = this.timings.maxStreamTasks;
    if (this.#completed.length >= 2 * cap) this.#completed = this.#completed.slice(-cap);
    this.#dirty = true;
  }

  start(pid: number): void {
    this.#timers.push(
      setInterval(() => this.#tick(), this.timings.snapshotMs),
      setInterval(() => this.publish("controller_heartbeat", { time: Date.now(), pid }), this.timings.heartbeatMs),
    );
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.length = 0;
  }

  #tick(): void {
    this.onTick();
    this.subscribers.expire();
    if (this.#completed.length) {
      const records = this.#completed.slice(-this.timings.maxStreamTasks);
      this.#completed = [];
      if (this.subscribers.size) this.publish("task_stream", { tasks: records.map(streamItem) });
    }
    const now = Date.now();
    if (this.#dirty || now - this.#lastSnapshot >= this.timings.snapshotMaxMs) {
      this.#dirty = false;
      this.#lastSnapshot = now;
      this.publish("cluster_snapshot", this.snapshot());
    }
  }
}

/** A finished task as the task stream shows it (one object, no spreads). */
function streamItem(record: TaskRecord): TaskStreamItem {
  const item: TaskStreamItem = { msgId: record.msgId, engineId: record.engineId!, kind: record.kind, status: record.status!, started: record.started!, completed: record.completed! };
  const info = record.streamInfo;
  if (info?.name !== undefined) item.name = info.name;
  if (record.streamIndex !== undefined) item.index = record.streamIndex;
  if (record.error) {
    const error = `${record.error.ename}: ${record.error.evalue}`.split("\n", 1)[0]!.slice(0, MAX_STREAM_ERROR);
    if (error) item.error = error;
  }
  return item;
}
