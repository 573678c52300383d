import type { ClusterSnapshot, TaskDbRecord, TaskRequest } from "@tsparallel/protocol";
import { dbRecord, recordInfo } from "../records/record-info.js";
import type { TaskRecord, TaskWork } from "../records/task-record.js";
import type { TaskRecords } from "../records/task-records.js";
import { Slice } from "../slice.js";
import { bytesOf } from "./frames.js";
import type { StoredRequest, StoredResult, TaskStore } from "./task-store.js";

/** Arguments kept for resubmission: the newest tasks' only, bounded in count and bytes. */
const KEEP_REQUESTS = 10_000;
const KEEP_REQUEST_BYTES = 64 * 1024 * 1024;

/** Today's in-memory records (bounded by TaskRecords) behind the store interface; nothing survives a restart. */
export class MemoryTaskStore implements TaskStore {
  readonly kind = "memory";
  readonly #requests = new Map<string, StoredRequest & { bytes: number }>();
  #requestBytes = 0;

  constructor(
    private readonly records: TaskRecords,
    private readonly maxValueBytes: number,
  ) {}

  added(record: TaskRecord, work: TaskWork | undefined, lb: TaskRequest["lb"] | undefined): void {
    if (!work) return;
    const bytes = bytesOf(work.frames);
    if (bytes > this.maxValueBytes) return;
    this.#requests.set(record.msgId, { body: work.body, frames: work.frames, ...(lb ? { lb } : {}), bytes });
    this.#requestBytes += bytes;
    while (this.#requests.size > KEEP_REQUESTS || this.#requestBytes > KEEP_REQUEST_BYTES) this.#forgetRequest(this.#requests.keys().next().value!);
  }

  completed(record: TaskRecord, _frames: Buffer[]): void {
    if (record.resultBytes > this.maxValueBytes) record.note = overCapNote(record.resultBytes, this.maxValueBytes, "memory");
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

  flushFinished(): void {}

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
