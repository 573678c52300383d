import { chmodSync } from "node:fs";
import Database from "better-sqlite3";
import type { ClusterSnapshot, Logger, RemoteErrorInfo, TaskDbRecord, TaskKind, TaskRecordInfo, TaskRequest, TaskStatus } from "@tsparallel/protocol";
import { dbRecord, recordInfo } from "../records/record-info.js";
import type { TaskRecord, TaskWork } from "../records/task-record.js";
import { packFrames, unpackFrames, bytesOf } from "./frames.js";
import { overCapNote } from "./memory-store.js";
import type { PendingRetry, RestoredState, StoredEngine, StoredRequest, StoredResult, StoreLimits, TaskStore } from "./task-store.js";

const SCHEMA_VERSION = "1";
/** Finished tasks that no message wrote (a timeout, an engine's death) wait at most this long. */
const FLUSH_MS = 25;
/**
 * A new task waits this long before it is written alone: most tiny tasks finish sooner and are written
 * once, finished. The price: a task submitted less than this before a crash is unknown afterwards
 * (its client hears that the restarted controller has no record of it).
 */
const ADD_WAIT_MS = 500;
/**
 * New tasks written per transaction at most: a 100k-task map must not hold the loop for seconds. 2,000
 * took ~45 ms of CPU on a loaded machine; a flush follows every message handled, so 500 keep up.
 */
const ADDS_PER_WRITE = 500;
/** Engines and function sources are few; still, nothing here grows without bound. */
const KEEP_ENGINES = 10_000;
const KEEP_FUNCTIONS = 10_000;
/** Culling removes this fraction more than needed, so it does not run on every write. */
const CULL_FRACTION = 0.1;
/**
 * Most finished records one cull removes: deleting 10,000 rows (and counting the table again) held the
 * controller's loop for ~100 ms; culls of this size come more often, each short. A write adds at most
 * ADDS_PER_WRITE new rows plus the results of one message, so culling keeps up.
 */
const CULL_ROWS_AT_ONCE = 2_500;

export class StoreInUseError extends Error {
  override name = "StoreInUseError";
}

interface Entry {
  record: TaskRecord;
  /** Set for a task not written yet: its place in the history (submission order). */
  seq?: number;
  /** When it was added (performance.now()). */
  since: number;
  request?: { json: string; frames: Buffer[] };
  result?: Buffer[];
}

interface Row {
  seq: number;
  msg_id: string;
  client: string;
  engine_id: number | null;
  kind: TaskKind;
  submitted: number;
  started: number | null;
  completed: number | null;
  status: TaskStatus | null;
  error: string | null;
  stdout: string | null;
  stderr: string | null;
  repr: string | null;
  execution_count: number | null;
  result_bytes: number;
  note: string | null;
  resubmitted: string | null;
}

const ROW_COLUMNS = "seq, msg_id, client, engine_id, kind, submitted, started, completed, status, error, stdout, stderr, repr, execution_count, result_bytes, note, resubmitted";
const STORED_BYTES = "coalesce(length(request_frames), 0) + coalesce(length(result_frames), 0)";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY,
  msg_id TEXT NOT NULL UNIQUE,
  client TEXT NOT NULL,
  engine_id INTEGER,
  kind TEXT NOT NULL,
  submitted REAL NOT NULL,
  started REAL,
  completed REAL,
  status TEXT,
  error TEXT,
  stdout TEXT,
  stderr TEXT,
  repr TEXT,
  execution_count INTEGER,
  request TEXT,
  request_frames BLOB,
  result_frames BLOB,
  result_bytes INTEGER NOT NULL DEFAULT 0,
  note TEXT,
  resubmitted TEXT
);
CREATE TABLE IF NOT EXISTS engines (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL, pid INTEGER NOT NULL, registered REAL NOT NULL);
CREATE TABLE IF NOT EXISTS functions (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, source TEXT NOT NULL);
`;

function toDbRecord(row: Row): TaskDbRecord {
  return {
    msgId: row.msg_id,
    client: row.client,
    engineId: row.engine_id,
    kind: row.kind,
    pending: row.status === null,
    status: row.status,
    submitted: row.submitted,
    started: row.started,
    completed: row.completed,
    error: row.error === null ? null : (JSON.parse(row.error) as RemoteErrorInfo),
    stdout: row.stdout,
    stderr: row.stderr,
    repr: row.repr,
    executionCount: row.execution_count,
    resubmitted: row.resubmitted,
    resultBytes: row.result_bytes,
    note: row.note,
  };
}

/**
 * Task records, arguments and results in one SQLite file (WAL) per profile. The hot path only notes
 * what changed. Before a handled message's results leave, the controller writes the finished tasks
 * in one transaction (so a result a client has is in the store); new tasks wait up to ADD_WAIT_MS,
 * so that a task that finishes meanwhile is one row written once. History order is the
 * order tasks were added (`seq`), whenever they are written. Bounded in records and bytes: the oldest finished tasks are culled.
 * The file is opened in exclusive locking mode, so two live controllers can never share it; the lock
 * dies with the process, so a restarted controller gets it back.
 */
export class SqliteTaskStore implements TaskStore {
  readonly kind = "sqlite";
  readonly #db: Database.Database;
  /** Tasks added and not written yet, oldest first; a task that finishes soon is written once, finished. */
  readonly #adds = new Map<string, Entry>();
  /** Finished tasks to write. */
  #finished: Entry[] = [];
  #nextSeq: number;
  #timer: NodeJS.Timeout | undefined;
  #rows = 0;
  #bytes = 0;
  #lost = 0;
  #batches = 0;
  #written = 0;
  readonly #insert: Database.Statement;
  readonly #update: Database.Statement;
  readonly #writeBatch: (entries: Entry[]) => void;

  private constructor(
    readonly location: string,
    db: Database.Database,
    private readonly limits: StoreLimits,
    private readonly log: Logger,
  ) {
    this.#db = db;
    // Positional parameters and a plain INSERT for a new task: this runs for every task, so it is kept lean.
    this.#insert = db.prepare(`
      INSERT INTO tasks (seq, msg_id, client, engine_id, kind, submitted, started, completed, status, error, stdout, stderr, repr,
                         execution_count, request, request_frames, result_frames, result_bytes, note, resubmitted)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
    this.#update = db.prepare(`
      UPDATE tasks SET engine_id = ?, started = ?, completed = ?, status = ?, error = ?, stdout = ?, stderr = ?, repr = ?,
        execution_count = ?, result_frames = ?, result_bytes = ?, note = ?, resubmitted = coalesce(?, resubmitted)
      WHERE msg_id = ?`);
    this.#writeBatch = db.transaction((entries: Entry[]) => {
      for (const entry of entries) this.#write(entry);
    });
    this.#recount();
    this.#nextSeq = ((db.prepare("SELECT max(seq) FROM tasks").pluck().get() as number | null) ?? 0) + 1;
  }

  /**
   * Opens (creating) the store. `restore` keeps what the file holds; otherwise the previous run's
   * records are cleared. Throws StoreInUseError when another live controller holds the file.
   */
  static open(location: string, limits: StoreLimits, restore: boolean, log: Logger): SqliteTaskStore {
    const db = new Database(location, { timeout: 0 });
    try {
      chmodSync(location, 0o600);
      db.pragma("locking_mode = EXCLUSIVE");
      db.pragma("journal_mode = WAL");
      // A committed batch survives a crash of the process (not of the machine): what a restart needs.
      db.pragma("synchronous = NORMAL");
      db.exec("BEGIN EXCLUSIVE; COMMIT");
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === "SQLITE_BUSY") throw new StoreInUseError(`the task store ${location} is in use by another controller`);
      throw err;
    }
    const version = SqliteTaskStore.#version(db);
    if (!restore || (version !== undefined && version !== SCHEMA_VERSION)) {
      if (restore) log.warn(`task store ${location} has schema ${version}, not ${SCHEMA_VERSION}: starting with an empty store`);
      db.exec("DROP TABLE IF EXISTS tasks; DROP TABLE IF EXISTS engines; DROP TABLE IF EXISTS functions; DROP TABLE IF EXISTS meta;");
    }
    db.exec(SCHEMA);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
    return new SqliteTaskStore(location, db, limits, log);
  }

  static #version(db: Database.Database): string | undefined {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    if (!table) return undefined;
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
    return row?.value;
  }

  /** After a crash: the engine table, function sources, and the tasks left pending failed with `error`. */
  restore(error: RemoteErrorInfo): RestoredState {
    const engines = this.#db.prepare("SELECT id, uuid, hostname, pid, registered FROM engines ORDER BY id").all() as StoredEngine[];
    const next = this.#db.prepare("SELECT value FROM meta WHERE key = 'next_engine_id'").get() as { value: string } | undefined;
    const functions = (this.#db.prepare("SELECT hash, source FROM functions ORDER BY seq").all() as { hash: string; source: string }[]).map((f) => [f.hash, f.source] as [string, string]);
    const requeued = this.#pendingWithRetries();
    const now = Date.now();
    const failed = this.#db
      .prepare(
        `UPDATE tasks SET status = 'error', completed = ?, started = coalesce(started, ?), error = ?, engine_id = coalesce(engine_id, -1)
         WHERE status IS NULL AND msg_id NOT IN (SELECT value FROM json_each(?))`,
      )
      .run(now, now, JSON.stringify(error), JSON.stringify(requeued.map((task) => task.msgId))).changes;
    const maxId = engines.reduce((max, e) => Math.max(max, e.id), -1);
    return { engines, nextEngineId: Math.max(maxId + 1, Number(next?.value ?? 0)), functions, failedPending: failed, requeued };
  }

  /** Pending load-balanced tasks whose submitter allowed retries: the restart uses one of them. */
  #pendingWithRetries(): PendingRetry[] {
    const rows = this.#db.prepare("SELECT msg_id, client, request, request_frames FROM tasks WHERE status IS NULL AND request IS NOT NULL ORDER BY seq").iterate() as IterableIterator<{
      msg_id: string;
      client: string;
      request: string;
      request_frames: Buffer | null;
    }>;
    const requeued: PendingRetry[] = [];
    for (const row of rows) {
      const { body, lb } = JSON.parse(row.request) as Pick<StoredRequest, "body" | "lb">;
      if (!lb || !((lb.retries ?? 0) > 0)) continue;
      requeued.push({ msgId: row.msg_id, client: row.client, body, frames: unpackFrames(row.request_frames), lb: { ...lb, retries: lb.retries! - 1 } });
    }
    return requeued;
  }

  added(record: TaskRecord, work: TaskWork | undefined, lb: TaskRequest["lb"] | undefined): void {
    const entry: Entry = { record, seq: this.#nextSeq++, since: performance.now() };
    if (work && bytesOf(work.frames) <= this.limits.maxValueBytes) entry.request = { json: JSON.stringify({ body: work.body, ...(lb ? { lb } : {}) }), frames: work.frames };
    this.#adds.set(record.msgId, entry);
    this.#schedule();
  }

  completed(record: TaskRecord, frames: Buffer[]): void {
    let entry = this.#adds.get(record.msgId);
    if (entry) this.#adds.delete(record.msgId);
    else entry = { record, since: performance.now() };
    this.#finished.push(entry);
    if (record.resultBytes > this.limits.maxValueBytes) record.note = overCapNote(record.resultBytes, this.limits.maxValueBytes, "sqlite");
    else entry.result = frames;
    this.#schedule();
  }

  result(msgId: string): StoredResult | undefined {
    const waiting = this.#adds.get(msgId);
    if (waiting) return { info: recordInfo(waiting.record), frames: [], evicted: false };
    this.#writeFinished();
    const row = this.#db.prepare(`SELECT ${ROW_COLUMNS}, result_frames FROM tasks WHERE msg_id = ?`).get(msgId) as (Row & { result_frames: Buffer | null }) | undefined;
    if (!row) return undefined;
    const frames = unpackFrames(row.result_frames);
    const stored = toDbRecord(row);
    const info: TaskRecordInfo = { msgId: stored.msgId, engineId: stored.engineId, kind: stored.kind, pending: stored.pending, submitted: stored.submitted, bufferCount: frames.length };
    if (stored.status !== null) info.status = stored.status;
    if (stored.started !== null) info.started = stored.started;
    if (stored.completed !== null) info.completed = stored.completed;
    if (stored.error) info.error = stored.error;
    if (stored.stdout !== null) info.stdout = stored.stdout;
    if (stored.stderr !== null) info.stderr = stored.stderr;
    if (stored.repr !== null) info.repr = stored.repr;
    if (stored.executionCount !== null) info.executionCount = stored.executionCount;
    if (stored.note !== null) info.note = stored.note;
    return { info, frames, evicted: stored.resultBytes > 0 && frames.length === 0 };
  }

  request(msgId: string): StoredRequest | null | undefined {
    const waiting = this.#adds.get(msgId);
    if (waiting) return waiting.request ? { ...(JSON.parse(waiting.request.json) as Pick<StoredRequest, "body" | "lb">), frames: waiting.request.frames } : null;
    this.#writeFinished();
    const row = this.#db.prepare("SELECT request, request_frames FROM tasks WHERE msg_id = ?").get(msgId) as { request: string | null; request_frames: Buffer | null } | undefined;
    if (!row) return undefined;
    if (row.request === null) return null;
    const { body, lb } = JSON.parse(row.request) as Pick<StoredRequest, "body" | "lb">;
    return { body, frames: unpackFrames(row.request_frames), ...(lb ? { lb } : {}) };
  }

  /** Rows and the tasks not written yet, in history order; nothing big is written on the way. */
  find(predicate: (record: TaskDbRecord) => boolean): TaskDbRecord[] {
    const found: TaskDbRecord[] = [];
    this.#inOrder((row) => {
      if (predicate(row)) found.push(row);
    }, (entry) => {
      const record = dbRecord(entry.record);
      if (predicate(record)) found.push(record);
    });
    return found;
  }

  /** Only finished tasks go, and those waiting to be written are all pending. */
  purge(msgIds: string[] | "all"): number {
    this.#writeFinished();
    let purged: number;
    if (msgIds === "all") purged = this.#db.prepare("DELETE FROM tasks WHERE status IS NOT NULL").run().changes;
    else {
      const drop = this.#db.prepare("DELETE FROM tasks WHERE msg_id = ? AND status IS NOT NULL");
      purged = 0;
      this.#db.transaction(() => {
        for (const msgId of msgIds) purged += drop.run(msgId).changes;
      })();
    }
    this.#recount();
    return purged;
  }

  history(): string[] {
    const ids: string[] = [];
    this.#inOrder((row) => ids.push(row.msgId), (entry) => ids.push(entry.record.msgId));
    return ids;
  }

  /** Stored rows merged with the tasks waiting to be written, by seq (both lists are in seq order). */
  #inOrder(row: (record: TaskDbRecord) => void, waiting: (entry: Entry) => void): void {
    this.#writeFinished();
    const adds = this.#adds.values();
    let next = adds.next();
    for (const r of this.#db.prepare(`SELECT ${ROW_COLUMNS} FROM tasks ORDER BY seq`).iterate() as IterableIterator<Row>) {
      while (!next.done && next.value.seq! < r.seq) {
        waiting(next.value);
        next = adds.next();
      }
      row(toDbRecord(r));
    }
    while (!next.done) {
      waiting(next.value);
      next = adds.next();
    }
  }

  /** Writes the finished tasks waiting (few: at most one handled message's worth). */
  #writeFinished(): void {
    if (this.#finished.length === 0) return;
    const entries = this.#finished;
    this.#finished = [];
    this.#commit(entries);
  }

  resubmitted(msgId: string, newMsgId: string): void {
    this.#writeFinished();
    this.#db.prepare("UPDATE tasks SET resubmitted = ? WHERE msg_id = ?").run(newMsgId, msgId);
  }

  functionSource(hash: string): string | undefined {
    let source: string | undefined;
    this.#guard("a function source", () => {
      source = (this.#db.prepare("SELECT source FROM functions WHERE hash = ?").get(hash) as { source: string } | undefined)?.source;
    });
    return source;
  }

  functionLearned(hash: string, source: string): void {
    this.#guard("a function source", () => {
      this.#db.prepare("INSERT OR IGNORE INTO functions (hash, source) VALUES (?, ?)").run(hash, source);
      this.#db.prepare("DELETE FROM functions WHERE seq <= (SELECT max(seq) FROM functions) - ?").run(KEEP_FUNCTIONS);
    });
  }

  engineByUuid(uuid: string): StoredEngine | undefined {
    let engine: StoredEngine | undefined;
    this.#guard("an engine", () => {
      engine = this.#db.prepare("SELECT id, uuid, hostname, pid, registered FROM engines WHERE uuid = ?").get(uuid) as StoredEngine | undefined;
    });
    return engine;
  }

  engineRegistered(engine: StoredEngine, nextId: number): void {
    this.#guard("an engine", () => {
      this.#db.prepare("INSERT OR REPLACE INTO engines (id, uuid, hostname, pid, registered) VALUES (@id, @uuid, @hostname, @pid, @registered)").run(engine);
      this.#db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_engine_id', ?)").run(String(nextId));
      this.#db.prepare("DELETE FROM engines WHERE id <= (SELECT max(id) FROM engines) - ?").run(KEEP_ENGINES);
    });
  }

  /** Writes everything waiting. */
  flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#adds.size === 0 && this.#finished.length === 0) return;
    const entries = this.#finished;
    for (const entry of this.#adds.values()) entries.push(entry);
    this.#adds.clear();
    this.#finished = [];
    this.#commit(entries);
  }

  /**
   * Writes the finished tasks (whose results are about to leave) and tasks added over ADD_WAIT_MS
   * ago; newer tasks wait, so that one that finishes meanwhile is written once.
   */
  flushFinished(): void {
    const old = performance.now() - ADD_WAIT_MS;
    const head = this.#adds.values().next().value;
    if (this.#finished.length === 0 && (head === undefined || head.since > old)) return;
    const entries = this.#finished;
    this.#finished = [];
    let adds = 0;
    for (const [msgId, entry] of this.#adds) {
      if (entry.since > old || adds++ === ADDS_PER_WRITE) break;
      entries.push(entry);
      this.#adds.delete(msgId);
    }
    this.#commit(entries);
  }

  #tick(): void {
    this.#timer = undefined;
    this.flushFinished();
    const head = this.#adds.values().next().value;
    if (head) this.#timer = setTimeout(() => this.#tick(), Math.max(FLUSH_MS, head.since + ADD_WAIT_MS - performance.now()));
  }

  #commit(entries: Entry[]): void {
    try {
      this.#writeBatch(entries);
      this.#batches++;
      this.#written += entries.length;
    } catch (err) {
      // A full disk must not take the controller down: the live records still work; say what is lost.
      this.#lost += entries.length;
      this.log.error(`task store: could not write ${entries.length} record(s) (${this.#lost} so far): ${(err as Error).message}`);
      return;
    }
    if (this.#rows > this.limits.maxRecords || this.#bytes > this.limits.maxBytes) this.#cull();
  }

  close(): void {
    this.flush();
    this.log.debug(`task store: ${this.#written} write(s) in ${this.#batches} transaction(s)`);
    this.#db.close();
  }

  stats(): NonNullable<ClusterSnapshot["store"]> {
    return { kind: "sqlite", location: this.location, records: this.#rows, bytes: this.#bytes, waiting: this.#adds.size + this.#finished.length };
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => this.#tick(), FLUSH_MS);
  }

  #write(entry: Entry): void {
    const r = entry.record;
    const resultFrames = entry.result ? packFrames(entry.result) : null;
    const error = r.error ? JSON.stringify(r.error) : null;
    if (entry.seq !== undefined) {
      const requestFrames = entry.request ? packFrames(entry.request.frames) : null;
      const written = this.#insert.run(
        entry.seq, r.msgId, r.client.key, r.engineId, r.kind, r.submitted, r.started ?? null, r.completed ?? null, r.status ?? null, error,
        r.stdout ?? null, r.stderr ?? null, r.repr ?? null, r.executionCount ?? null, entry.request?.json ?? null, requestFrames,
        resultFrames, r.resultBytes, r.note ?? null, r.resubmitted ?? null,
      ).changes;
      if (written === 0) return;
      this.#rows++;
      this.#bytes += requestFrames?.length ?? 0;
    } else {
      this.#update.run(
        r.engineId, r.started ?? null, r.completed ?? null, r.status ?? null, error, r.stdout ?? null, r.stderr ?? null, r.repr ?? null,
        r.executionCount ?? null, resultFrames, r.resultBytes, r.note ?? null, r.resubmitted ?? null, r.msgId,
      );
    }
    this.#bytes += resultFrames?.length ?? 0;
  }

  /**
   * Drops the oldest finished tasks until both bounds are a tenth under their limit, at most
   * CULL_ROWS_AT_ONCE of them (the next write goes on). The counts go down by what was deleted; the
   * table is counted again only if the delete did not remove exactly the rows selected.
   */
  #cull(): void {
    const rowsOver = this.#rows - Math.floor(this.limits.maxRecords * (1 - CULL_FRACTION));
    const bytesOver = this.#bytes - Math.floor(this.limits.maxBytes * (1 - CULL_FRACTION));
    let rows = 0;
    let bytes = 0;
    let lastSeq: number | undefined;
    for (const row of this.#db.prepare(`SELECT seq, ${STORED_BYTES} AS bytes FROM tasks WHERE status IS NOT NULL ORDER BY seq`).iterate() as IterableIterator<{ seq: number; bytes: number }>) {
      if ((rows >= rowsOver && bytes >= bytesOver) || rows >= CULL_ROWS_AT_ONCE) break;
      rows++;
      bytes += row.bytes;
      lastSeq = row.seq;
    }
    if (lastSeq === undefined) return;
    const deleted = this.#db.prepare("DELETE FROM tasks WHERE status IS NOT NULL AND seq <= ?").run(lastSeq).changes;
    if (deleted === rows) {
      this.#rows -= rows;
      this.#bytes -= bytes;
    } else this.#recount();
    this.log.debug(`task store: culled ${rows} finished record(s), ${bytes} bytes`);
  }

  #recount(): void {
    const totals = this.#db.prepare(`SELECT count(*) AS rows, coalesce(sum(${STORED_BYTES}), 0) AS bytes FROM tasks`).get() as { rows: number; bytes: number };
    this.#rows = totals.rows;
    this.#bytes = totals.bytes;
  }

  #guard(what: string, write: () => void): void {
    try {
      write();
    } catch (err) {
      this.log.error(`task store: could not write ${what}: ${(err as Error).message}`);
    }
  }
}
