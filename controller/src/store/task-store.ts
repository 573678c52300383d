import type { ClusterSnapshot, TaskBody, TaskDbRecord, TaskRecordInfo, TaskRequest } from "@tsparallel/protocol";
import type { TaskRecord, TaskWork } from "../records/task-record.js";

export type StoreKind = "sqlite" | "memory";

export interface StoreLimits {
  /** Task records kept; the oldest finished ones go first (by a tenth, as ipyparallel culls). */
  maxRecords: number;
  /** Bytes of stored arguments and results, all records together. */
  maxBytes: number;
  /** A result (or argument list) larger than this is not stored: the record says so in `note`. */
  maxValueBytes: number;
  /**
   * How far the writer thread may fall behind (rows, and bytes of arguments and results, handed over
   * and not committed yet) before the controller stops reading clients and engines until it is back
   * under half of both. Defaults: 20,000 rows, 64 MiB.
   */
  maxBehindRows?: number;
  maxBehindBytes?: number;
}

/** The writer's lag past which the controller stops reading new work (StoreLimits.maxBehindRows/maxBehindBytes). */
export const DEFAULT_MAX_BEHIND = { rows: 20_000, bytes: 64 * 1024 * 1024 };

export const DEFAULT_STORE_LIMITS: StoreLimits = { maxRecords: 100_000, maxBytes: 1024 * 1024 * 1024, maxValueBytes: 16 * 1024 * 1024 };

/** What a task was asked to do, kept so that it can be resubmitted (also after a restart). */
export interface StoredRequest {
  body: TaskBody;
  frames: Buffer[];
  lb?: TaskRequest["lb"];
}

export interface StoredResult {
  info: TaskRecordInfo;
  frames: Buffer[];
  /** True when the value was not kept (size cap or memory bound). */
  evicted: boolean;
}

export interface StoredEngine {
  id: number;
  uuid: string;
  hostname: string;
  pid: number;
  registered: number;
}

/** What a restored store hands back to the controller. */
export interface RestoredState {
  engines: StoredEngine[];
  nextEngineId: number;
  /** Function sources by hash, so stored tasks can be resubmitted. */
  functions: [string, string][];
  /** Tasks that were queued or running when the previous controller ended, without retries left: now failed. */
  failedPending: number;
  /** Load-balanced tasks pending then with retries left and stored arguments: to be queued again. */
  requeued: PendingRetry[];
}

/** A task the previous controller held pending, as its submitter sent it; `client` is its identity key then. */
export interface PendingRetry extends StoredRequest {
  msgId: string;
  client: string;
}

/**
 * Where the controller keeps its task records beyond the live ones: SQLite on disk (survives a
 * restart) or memory (today's bounded records). The router reports every task added and finished;
 * the client requests (results, history, db queries, resubmit, purge) read it.
 */
export interface TaskStore {
  readonly kind: StoreKind;
  /** The file, for sqlite. */
  readonly location?: string;
  /** A new task; `work.body` may carry the function's source, which the store drops (it keeps sources once, by hash). */
  added(record: TaskRecord, work: TaskWork | undefined, lb: TaskRequest["lb"] | undefined): void;
  /** The record has its result; may set `record.note` when the value is over the cap. */
  completed(record: TaskRecord, frames: Buffer[]): void;
  result(msgId: string): StoredResult | undefined;
  /** undefined: no such task; null: known, but its arguments were not kept. */
  request(msgId: string): StoredRequest | null | undefined;
  /** Every record the predicate takes, in history order; a big store is read in slices that yield to the loop. */
  find(predicate: (record: TaskDbRecord) => boolean): Promise<TaskDbRecord[]>;
  /** Forgets the finished tasks named (all finished ones for "all"); returns how many. */
  purge(msgIds: string[] | "all"): Promise<number>;
  /** Every msgId, in submission order (read in slices, like find). */
  history(): Promise<string[]>;
  resubmitted(msgId: string, newMsgId: string): void;
  functionLearned(hash: string, source: string): void;
  /** A source the store kept (for resubmitting a stored task whose source the controller let go). */
  functionSource(hash: string): string | undefined;
  engineRegistered(engine: StoredEngine, nextId: number): void;
  /** An engine of the engine table, by uuid (one the controller forgot registers again under its id). */
  engineByUuid(uuid: string): StoredEngine | undefined;
  /** Cheap: read for every snapshot. */
  stats(): NonNullable<ClusterSnapshot["store"]>;
  /** Hands what finished to be written (the controller calls it before results leave); new tasks may wait a little. */
  flushFinished(): void;
  /**
   * undefined while the store keeps up; a promise while its writing is too far behind (resolved once
   * it has caught up): the controller reads no new messages from clients and engines meanwhile.
   */
  caughtUp(): Promise<void> | undefined;
  /** Called once before the controller serves (after a restore); `time` times the store's own work on the loop. */
  start(time?: <T>(what: string, work: () => T) => T): void;
  /** Writes what waits (blocking, bounded) and closes. */
  close(): void;
}
