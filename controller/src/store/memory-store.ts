import type { ClusterSnapshot, TaskDbRecord, TaskRequest } from "@tsparallel/protocol";
import { dbRecord, recordInfo } from "../records/record-info.js";
import type { TaskRecord, TaskWork } from "../records/task-record.js";
import type { TaskRecords } from "../records/task-records.js";
import { Slice } from "../slice.js";
import { withoutSource } from "../function-cache.js";
import { bytesOf } from "./frames.js";
import { DEFAULT_STORE_LIMITS, type StoredRequest, type StoredResult, type StoreLimits, type TaskStore } from "./task-store.js";

/** Arguments kept for resubmission: the newest tasks' only, bounded in count and bytes. */
const KEEP_REQUESTS = 10_000;
const KEEP_REQUEST_BYTES = 64 * 1024 * 1024;
/** As the SQLite store: a cull goes a tenth under the bounds, so it does not run on every task. */
const CULL_FRACTION = 0.1;
/** Records one cull forgets at most (the next handled message goes on): the loop is never held long. */
const CULL_AT_ONCE = 2_500;

/**
 * Today's in-memory records (bounded by TaskRecords) behind the store interface; nothing survives a
 * restart. Also bounded as a store (ipyparallel's DictDB record and size limits): past `maxRecords`
 * records or `maxBytes` of kept values (results and arguments) the oldest finished records are culled,
 * a tenth under the bounds. A record's size counts once its result is in (a pending one holds its
 * arguments only), and a purged or culled one no longer counts.
 */
export class MemoryTaskStore implements TaskStore {
  readonly kind = "memory";
  readonly #requests = new Map<string, StoredRequest & { bytes: number }>();
  #requestBytes = 0;
  /** A result came in since the last check of the bounds. */
  #cullDue = false;

  constructor(
    private readonly records: TaskRecords,
    private readonly maxValueBytes: number,
    private readonly limits: Pick<StoreLimits, "maxRecords" | "maxBytes"> = DEFAULT_STORE_LIMITS,
  ) {}

  added(record: TaskRecord, work: TaskWork | undefined, lb: TaskRequest["lb"] | undefined): void {
    if (!work) return;
    const bytes = bytesOf(work.frames);
    if (bytes > this.maxValueBytes) return;
    this.#requests.set(record.msgId, { body: withoutSource(work.body), frames: work.frames, ...(lb ? { lb } : {}), bytes });
    this.#requestBytes += bytes;
    while (this.#requests.size > KEEP_REQUESTS || this.#requestBytes > KEEP_REQUEST_BYTES) this.#forgetRequest(this.#requests.keys().next().value!);
  }

  completed(record: TaskRecord, _frames: Buffer[]): void {
    if (record.resultBytes > this.maxValueBytes) record.note = overCapNote(record.resultBytes, this.maxValueBytes, "memory");
    // The records take the result after this call: the bounds are checked in flushFinished, after the handled message.
    this.#cullDue = true;
  }

  result(msgId: string): StoredResult | undefined {
    const record = this.records.get(msgId);
    if (!record) return undefined;
    return { info: recordInfo(record), frames: record.resultFrames, evicted: record.resultsEvicted };
  }

  request(msgId: string): StoredRequest | null | undefined {
    if (!this.records.get(msgId)) return undefined;
    return this.#requests.get(msgId) ?? null;
  }

  async find(predicate: (record: TaskDbRecord) => boolean): Promise<TaskDbRecord[]> {
    const found: TaskDbRecord[] = [];
    const slice = new Slice();
    for (const record of this.records.values()) {
      if (slice.due()) await slice.yield();
      const row = dbRecord(record);
      if (predicate(row)) found.push(row);
    }
    return found;
  }

  async purge(msgIds: string[] | "all"): Promise<number> {
    const ids = msgIds === "all" ? this.records.history() : msgIds;
    let purged = 0;
    for (const msgId of ids) {
      if (!this.records.purge(msgId)) continue;
      this.#forgetRequest(msgId);
      purged++;
    }
    return purged;
  }

  async history(): Promise<string[]> {
    return this.records.history();
  }

  resubmitted(msgId: string, newMsgId: string): void {
    const record = this.records.get(msgId);
    if (record) record.resubmitted = newMsgId;
  }

  functionLearned(): void {}

  engineByUuid(): undefined {
    return undefined;
  }

  functionSource(): string | undefined {
    return undefined;
  }

  engineRegistered(): void {}

  /** Called after each handled message, once the records hold its results: culls when a bound is passed. */
  flushFinished(): void {
    if (!this.#cullDue) return;
    this.#cullDue = false;
    const bytes = () => this.records.resultBytes + this.#requestBytes;
    if (this.records.size <= this.limits.maxRecords && bytes() <= this.limits.maxBytes) return;
    const keepRecords = Math.floor(this.limits.maxRecords * (1 - CULL_FRACTION));
    const keepBytes = Math.floor(this.limits.maxBytes * (1 - CULL_FRACTION));
    const culled = this.records.cullOldest(() => this.records.size > keepRecords || bytes() > keepBytes, CULL_AT_ONCE, (msgId) => this.#forgetRequest(msgId));
    // More to go: the next flush goes on.
    if (culled === CULL_AT_ONCE) this.#cullDue = true;
  }

  start(): void {}

  caughtUp(): undefined {
    return undefined;
  }

  stats(): NonNullable<ClusterSnapshot["store"]> {
    return { kind: "memory", records: this.records.size, bytes: this.records.resultBytes + this.#requestBytes, waiting: 0 };
  }

  close(): void {}

  #forgetRequest(msgId: string): void {
    const request = this.#requests.get(msgId);
    if (!request) return;
    this.#requests.delete(msgId);
    this.#requestBytes -= request.bytes;
  }
}

export function overCapNote(bytes: number, cap: number, where: "memory" | "sqlite"): string {
  return `the result (${bytes} bytes) is over the task store's cap of ${cap} bytes per value: it went to its client but is not kept${where === "sqlite" ? " in the store" : ""}`;
}
