import { chmodSync } from "node:fs";
import Database from "better-sqlite3";
import type { ClusterSnapshot, Logger, RemoteErrorInfo, TaskBody, TaskDbRecord, TaskRecordInfo, TaskRequest } from "@tsparallel/protocol";
import { bodyJson, isShared } from "../function-cache.js";
import { dbRecord, recordInfo } from "../records/record-info.js";
import type { TaskRecord, TaskWork } from "../records/task-record.js";
import { Deque } from "../deque.js";
import { Slice } from "../slice.js";
import { bytesOf, packedSize, packInto, unpackFrames } from "./frames.js";
import { overCapNote } from "./memory-store.js";
import { ROW_COLUMNS, SCHEMA, SCHEMA_VERSION, toDbRecord, type AddedRows, type FinishedRows, type Row, type StoreTotals, type WriteRow } from "./sqlite-schema.js";
import { DEFAULT_MAX_BEHIND, type PendingRetry, type RestoredState, type StoredEngine, type StoredRequest, type StoredResult, type StoreLimits, type TaskStore } from "./task-store.js";
import { WriterThread } from "./writer-thread.js";

/** Finished tasks that no message wrote (a timeout, an engine's death) wait at most this long. */
const FLUSH_MS = 25;
/**
 * A new task waits this long before it is written alone: most tiny tasks finish sooner and are written
 * once, finished. The price: a task submitted less than this before a crash is unknown afterwards
 * (its client hears that the restarted controller has no record of it).
 */
const ADD_WAIT_MS = 500;
/**
 * New tasks handed to the writer at once at most: building their rows is the controller thread's part.
 * In a big map most tasks wait over ADD_WAIT_MS (written pending, then finished); 1,000 at once took
 * 20-160 ms of wall time at load 60 (with its share of GC). A flush follows every message, so 250 keep up.
 */
const ADDS_PER_WRITE = 250;
/** How long finished tasks wait to be handed to the writer (with what finishes meanwhile): the window a SIGKILL may take. */
const HANDOVER_MS = 20;
/**
 * Finished tasks handed to the writer in one turn at most; the rest follow on the next turns. Packing
 * a row costs the loop ~5 µs (1,820 finished rows: 10 ms of the loop thread's CPU, in the 1M map), and a
 * late timer (a busy or descheduled loop) lets more than HANDOVER_MS of results pile up: at 18,000
 * tasks/s, half a second of them would be ~45 ms in one go. (A handover took 51.5 ms of the loop
 * thread's CPU once at load 7-8, TSPARALLEL_LOOP_CPU=thread; its row count was not recorded.)
 */
const FINISHED_PER_HANDOVER = 2_000;
/** Rows read per statement by a scan of the whole store (history, db queries); the loop turns between slices. */
const SCAN_PAGE = 500;
/** Function sources and engines handed to the writer lately, readable before it commits them. */
const KEEP_RECENT = 256;

export class StoreInUseError extends Error {
  override name = "StoreInUseError";
}

/** A task the store has to write. A class, not a literal: one per task, living until it is written (see ClientRef in task-record.ts). */
class Entry {
  /** Set for a task not written yet: its place in the history (submission order). */
  seq: number | undefined;
  /**
   * What it was asked to do (the accepted body: bodyJson leaves its source out); made JSON only when its
   * row is built. Fields of the entry, not an object of them: one allocation less per task.
   */
  body: TaskBody | undefined = undefined;
  lb: TaskRequest["lb"] | undefined = undefined;
  /** Set with `body` when its arguments are kept (under the value cap). */
  frames: Buffer[] | undefined = undefined;
  result: Buffer[] | undefined = undefined;
  /** When it was added (performance.now()). */
  readonly since = performance.now();

  constructor(
    readonly record: TaskRecord,
    seq: number | undefined,
    /** For the row that finishes a task written pending: the seq its row was inserted under (0: unknown). */
    readonly rowSeq: number,
    /** Still in #adds, to be written (not finished, not handed over yet). */
    public waiting: boolean,
  ) {
    this.seq = seq;
  }
}

/** A task's rows handed to the writer, not committed yet: the newest, and the one that added it (with its arguments). */
interface PostedRows {
  latest?: Entry;
  added?: Entry;
}

const NONE_POSTED: PostedRows = {};

/** Rows handed to the writer in one message, until it says they are committed. */
interface Batch {
  n: number;
  entries: Entry[];
  bytes: number;
}

/**
 * Task records, arguments and results in one SQLite file (WAL) per profile. The hot path only notes
 * what changed. Writing is the writer thread's (`store-writer.ts`): the tasks each handled message
 * finished go to it within HANDOVER_MS as one batch of rows, and the results never wait for the
 * commit, so inserts, culls and checkpoints never hold the loop. The window this leaves: a SIGKILL can
 * take from the store a result that had left but was not committed yet (handed over within
 * HANDOVER_MS, committed as soon as the writer gets it; it is never more than StoreLimits.maxBehindRows rows
 * behind, since past that the controller stops reading). New tasks
 * wait up to ADD_WAIT_MS, so that a task that finishes meanwhile is one row written once. History
 * order is the order tasks were added (`seq`), whenever they are written.
 *
 * Reads are this thread's own connection (WAL: it reads while the writer writes), so looking up a
 * task is synchronous; what was handed over and not committed yet is read from memory. Scans of the
 * whole store go page by page, yielding to the loop. A lock file (`<file>.lock`, held in SQLite's
 * exclusive locking mode) keeps two live controllers from sharing the store; the lock dies with the
 * process, so a restarted controller gets it back.
 */
export class SqliteTaskStore implements TaskStore {
  readonly kind = "sqlite";
  readonly #db: Database.Database;
  readonly #lock: Database.Database;
  readonly #writer: WriterThread;
  /**
   * Tasks added, oldest first, until they finish or are written (`waiting`); a task that finishes soon is
   * written once, finished. A deque with a flag, not a Map by msgId: a task's entry is found from its
   * record (`TaskRecord.storeEntry`), and a Map's set, get and delete per task was a measurable share of
   * a big map's loop. Entries that left while older ones wait are dropped when they reach the head.
   */
  readonly #adds = new Deque<Entry>();
  /** How many entries of #adds are waiting. */
  #addsWaiting = 0;
  /** Finished tasks to hand over. */
  #finished: Entry[] = [];
  /** Handed to the writer, not known to be committed: read from here until they are (#postedEntries). */
  readonly #inFlight = new Deque<Batch>();
  /**
   * The rows of #inFlight by msgId, made by the first read after they changed. A Map kept up as rows
   * went and came cost a set, a get and a delete per row on the hot path; reads by msgId are rare.
   */
  #postedIndex?: Map<string, PostedRows>;
  #behindRows = 0;
  #behindBytes = 0;
  /**
   * How far the writer thread may fall behind (rows and bytes handed over, not yet committed). Past
   * either, the controller stops reading clients and engines until it is back under half of both
   * (`caughtUp`): memory stays bounded, and so does what a SIGKILL can take from the store.
   */
  readonly #maxBehind: { rows: number; bytes: number };
  /** Times reading stopped for the writer, for the snapshot. */
  #pauses = 0;
  #nextBatch = 0;
  #caughtUp: { promise: Promise<void>; resolve: () => void } | undefined;
  #nextSeq: number;
  #timer: NodeJS.Timeout | undefined;
  #handover: NodeJS.Timeout | undefined;
  /** The controller's loop watch, so that handing rows over is timed like a handler. */
  #time: <T>(what: string, work: () => T) => T = (_what, work) => work();
  #rows = 0;
  #bytes = 0;
  #lost = 0;
  #batches = 0;
  #written = 0;
  readonly #recentFunctions = new Map<string, string>();
  readonly #recentEngines = new Map<string, StoredEngine>();
  readonly #resultRow: Database.Statement;
  readonly #requestRow: Database.Statement;
  readonly #page: Database.Statement;

  private constructor(
    readonly location: string,
    db: Database.Database,
    lock: Database.Database,
    limits: StoreLimits,
    private readonly limitsValueBytes: number,
    private readonly log: Logger,
  ) {
    this.#db = db;
    this.#lock = lock;
    this.#maxBehind = { rows: limits.maxBehindRows ?? DEFAULT_MAX_BEHIND.rows, bytes: limits.maxBehindBytes ?? DEFAULT_MAX_BEHIND.bytes };
    this.#resultRow = db.prepare(`SELECT ${ROW_COLUMNS}, result_frames FROM tasks WHERE msg_id = ?`);
    this.#requestRow = db.prepare("SELECT request, request_frames FROM tasks WHERE msg_id = ?");
    this.#page = db.prepare(`SELECT ${ROW_COLUMNS} FROM tasks WHERE seq > ? ORDER BY seq LIMIT ${SCAN_PAGE}`);
    this.#recount();
    this.#nextSeq = ((db.prepare("SELECT max(seq) FROM tasks").pluck().get() as number | null) ?? 0) + 1;
    this.#writer = new WriterThread(location, limits, log, {
      written: (batch, totals) => this.#committed(batch, totals),
      lost: (rows, message) => {
        this.#lost += rows;
        this.log.error(`task store: could not write ${rows} record(s) (${this.#lost} so far): ${message}`);
      },
      totals: (totals) => this.#totals(totals),
      broken: () => this.#forgetInFlight(),
    });
  }

  /**
   * Opens (creating) the store. `restore` keeps what the file holds; otherwise the previous run's
   * records are cleared. Throws StoreInUseError when another live controller holds the file.
   */
  static open(location: string, limits: StoreLimits, restore: boolean, log: Logger): SqliteTaskStore {
    const lock = SqliteTaskStore.#takeLock(location);
    let db: Database.Database | undefined;
    try {
      db = new Database(location, { timeout: 10_000 });
      chmodSync(location, 0o600);
      db.pragma("journal_mode = WAL");
      // A committed batch survives a crash of the process (not of the machine): what a restart needs.
      db.pragma("synchronous = NORMAL");
      const version = SqliteTaskStore.#version(db);
      if (!restore || (version !== undefined && version !== SCHEMA_VERSION)) {
        if (restore) log.warn(`task store ${location} has schema ${version}, not ${SCHEMA_VERSION}: starting with an empty store`);
        db.exec("DROP TABLE IF EXISTS tasks; DROP TABLE IF EXISTS engines; DROP TABLE IF EXISTS functions; DROP TABLE IF EXISTS meta;");
      }
      db.exec(SCHEMA);
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
      return new SqliteTaskStore(location, db, lock, limits, limits.maxValueBytes, log);
    } catch (err) {
      db?.close();
      lock.close();
      throw err;
    }
  }

  /** Held for the life of the process (or until close): a second controller on the same store is refused. */
  static #takeLock(location: string): Database.Database {
    const file = `${location}.lock`;
    const lock = new Database(file, { timeout: 0 });
    try {
      chmodSync(file, 0o600);
      lock.pragma("locking_mode = EXCLUSIVE");
      lock.exec("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (pid INTEGER); COMMIT");
      return lock;
    } catch (err) {
      lock.close();
      if ((err as { code?: string }).code === "SQLITE_BUSY") throw new StoreInUseError(`the task store ${location} is in use by another controller`);
      throw err;
    }
  }

  static #version(db: Database.Database): string | undefined {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    if (!table) return undefined;
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
    return row?.value;
  }

  /**
   * After a crash: the engine table, function sources, and the tasks left pending failed with `error`.
   * Runs before the writer thread starts (`start`).
   */
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

  /** After restore (which writes through this thread's connection), before serving. */
  start(time?: <T>(what: string, work: () => T) => T): void {
    if (time) this.#time = time;
    this.#writer.start();
  }

  added(record: TaskRecord, work: TaskWork | undefined, lb: TaskRequest["lb"] | undefined): void {
    // Every member from the start (see Entry): one shape for all entries, no property store added later.
    const entry = new Entry(record, this.#nextSeq++, 0, true);
    // The body as accepted (sources and all): its stored JSON leaves the source out (bodyJson), so no copy per task.
    if (work && bytesOf(work.frames) <= this.limitsValueBytes) {
      entry.body = work.body;
      entry.lb = lb;
      entry.frames = work.frames;
    }
    record.storeEntry = entry;
    this.#adds.push(entry);
    this.#addsWaiting++;
    this.#schedule();
  }

  completed(record: TaskRecord, frames: Buffer[]): void {
    const added = record.storeEntry as Entry | number | undefined;
    record.storeEntry = undefined;
    let entry: Entry;
    if (typeof added === "object" && added.waiting) {
      entry = added;
      this.#leave(entry);
    }
    // Written pending already: this row updates it (a read before both are committed finds the arguments in the earlier one: #postedEntries).
    else entry = new Entry(record, undefined, typeof added === "number" ? added : 0, false);
    this.#finished.push(entry);
    if (record.resultBytes > this.limitsValueBytes) record.note = overCapNote(record.resultBytes, this.limitsValueBytes, "sqlite");
    else entry.result = frames;
    this.#schedule();
  }

  result(msgId: string): StoredResult | undefined {
    const waiting = this.#waitingEntry(msgId);
    if (waiting) return { info: recordInfo(waiting.record), frames: [], evicted: false };
    this.#postFinished();
    const posted = this.#postedEntries(msgId).latest;
    if (posted) {
      const frames = posted.result ?? [];
      return { info: { ...recordInfo(posted.record), bufferCount: frames.length }, frames, evicted: posted.record.resultBytes > 0 && frames.length === 0 };
    }
    const row = this.#resultRow.get(msgId) as (Row & { result_frames: Buffer | null }) | undefined;
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
    const adding = this.#waitingEntry(msgId);
    const waiting = adding ?? (this.#postFinished(), this.#postedEntries(msgId).added);
    if (waiting?.frames) return { ...(JSON.parse(requestJson(waiting.body!, waiting.lb)) as Pick<StoredRequest, "body" | "lb">), frames: waiting.frames };
    if (waiting?.seq !== undefined) return null;
    const row = this.#requestRow.get(msgId) as { request: string | null; request_frames: Buffer | null } | undefined;
    if (!row) return undefined;
    if (row.request === null) return null;
    const { body, lb } = JSON.parse(row.request) as Pick<StoredRequest, "body" | "lb">;
    return { body, frames: unpackFrames(row.request_frames), ...(lb ? { lb } : {}) };
  }

  /** Rows and the tasks not written yet, in history order, read in slices. */
  async find(predicate: (record: TaskDbRecord) => boolean): Promise<TaskDbRecord[]> {
    const found: TaskDbRecord[] = [];
    await this.#inOrder((record) => {
      if (predicate(record)) found.push(record);
    });
    return found;
  }

  async history(): Promise<string[]> {
    const ids: string[] = [];
    await this.#inOrder((record) => ids.push(record.msgId));
    return ids;
  }

  /** Only finished tasks go, and those waiting to be written are all pending. */
  async purge(msgIds: string[] | "all"): Promise<number> {
    this.#postFinished();
    const done = await this.#writer.request({ op: "purge", msgIds });
    if (done.error) throw new Error(`the task store could not purge: ${done.error}`);
    return done.purged ?? 0;
  }

  /**
   * Stored rows merged with the tasks waiting to be written, by seq, a page of rows at a time. First
   * the writer catches up with what it was handed, so the pages hold every task not in `#adds`. A task
   * of the snapshot of `#adds` that is written meanwhile is seen once: as a row if its page comes after.
   */
  async #inOrder(visit: (record: TaskDbRecord) => void): Promise<void> {
    this.#postFinished();
    if (this.#inFlight.length > 0) await this.#writer.request({ op: "sync" });
    const slice = new Slice();
    const waiting = this.#waitingEntries();
    const waitingIds = new Set<string>();
    for (const entry of waiting) waitingIds.add(entry.record.msgId);
    const seenAsRow = new Set<string>();
    let w = 0;
    const visitWaitingBefore = (seq: number) => {
      for (; w < waiting.length && waiting[w]!.seq! < seq; w++) if (!seenAsRow.has(waiting[w]!.record.msgId)) visit(dbRecord(waiting[w]!.record));
    };
    let after = 0;
    for (;;) {
      const rows = this.#page.all(after) as Row[];
      for (const row of rows) {
        if (waitingIds.has(row.msg_id)) seenAsRow.add(row.msg_id);
        visitWaitingBefore(row.seq);
        visit(toDbRecord(row));
      }
      if (rows.length < SCAN_PAGE) break;
      after = rows[rows.length - 1]!.seq;
      if (slice.dueNow()) await slice.yield();
    }
    visitWaitingBefore(Infinity);
  }

  resubmitted(msgId: string, newMsgId: string): void {
    this.#postFinished();
    this.#writer.post({ op: "resubmitted", msgId, newMsgId });
  }

  functionSource(hash: string): string | undefined {
    const recent = this.#recentFunctions.get(hash);
    if (recent !== undefined) return recent;
    return this.#read("a function source", () => (this.#db.prepare("SELECT source FROM functions WHERE hash = ?").get(hash) as { source: string } | undefined)?.source);
  }

  functionLearned(hash: string, source: string): void {
    remember(this.#recentFunctions, hash, source);
    this.#writer.post({ op: "function", hash, source });
  }

  engineByUuid(uuid: string): StoredEngine | undefined {
    const recent = this.#recentEngines.get(uuid);
    if (recent) return recent;
    return this.#read("an engine", () => this.#db.prepare("SELECT id, uuid, hostname, pid, registered FROM engines WHERE uuid = ?").get(uuid) as StoredEngine | undefined);
  }

  engineRegistered(engine: StoredEngine, nextId: number): void {
    remember(this.#recentEngines, engine.uuid, engine);
    this.#writer.post({ op: "engine", engine, nextId });
  }

  /** Hands everything waiting to the writer. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#handover);
    this.#handover = undefined;
    if (this.#addsWaiting === 0 && this.#finished.length === 0) return;
    const entries = this.#finished;
    for (let entry = this.#adds.shift(); entry; entry = this.#adds.shift()) {
      if (!entry.waiting) continue;
      entry.waiting = false;
      if (entry.record.storeEntry === entry) entry.record.storeEntry = entry.seq;
      entries.push(entry);
    }
    this.#addsWaiting = 0;
    this.#finished = [];
    this.#commit(entries);
  }

  /**
   * Called after each handled message, before its results leave: the finished tasks (and tasks added
   * over ADD_WAIT_MS ago) go to the writer within HANDOVER_MS, together with whatever finishes
   * meanwhile. Not at once: a batch per message made the writer thread wake, commit and answer for
   * every round trip, which on two cores slowed the round trip itself (+60% controller CPU); every
   * 5 ms it still cost 10-20% (bench/ab.mjs against main); every 20 ms the round trip is 5-10% faster
   * than main's synchronous write was.
   */
  flushFinished(): void {
    if (this.#handover || (this.#finished.length === 0 && !this.#oldAddsWaiting(performance.now()))) return;
    this.#scheduleHandover(HANDOVER_MS);
  }

  #scheduleHandover(ms: number): void {
    this.#handover = setTimeout(() => {
      this.#handover = undefined;
      this.#time("handing rows to the store's writer", () => this.#handOver());
    }, ms);
  }

  #oldAddsWaiting(now: number): boolean {
    const head = this.#adds.peek();
    return head !== undefined && head.since <= now - ADD_WAIT_MS;
  }

  /** An entry leaves #adds (finished, or handed over pending); the head is always a waiting entry. */
  #leave(entry: Entry): void {
    entry.waiting = false;
    // Handed over pending: its record keeps only the seq its finishing row updates (not its arguments).
    if (entry.record.storeEntry === entry) entry.record.storeEntry = entry.seq;
    this.#addsWaiting--;
    for (let head = this.#adds.peek(); head && !head.waiting; head = this.#adds.peek()) this.#adds.shift();
  }

  /** A task added and not written yet, by msgId (reads only: a scan of what waits, at most ADD_WAIT_MS of new tasks). */
  #waitingEntry(msgId: string): Entry | undefined {
    if (this.#addsWaiting === 0) return undefined;
    for (const entry of this.#adds) if (entry.waiting && entry.record.msgId === msgId) return entry;
    return undefined;
  }

  #waitingEntries(): Entry[] {
    const waiting: Entry[] = [];
    for (const entry of this.#adds) if (entry.waiting) waiting.push(entry);
    return waiting;
  }

  /** The finished tasks, and at most ADDS_PER_WRITE tasks added over ADD_WAIT_MS ago (newer ones may finish first). */
  #handOver(): void {
    const old = performance.now() - ADD_WAIT_MS;
    let entries = this.#finished;
    this.#finished = [];
    if (entries.length > FINISHED_PER_HANDOVER) {
      // In order: the rest go first next turn, ahead of what finishes meanwhile.
      this.#finished = entries.slice(FINISHED_PER_HANDOVER);
      entries = entries.slice(0, FINISHED_PER_HANDOVER);
      if (!this.#handover) this.#scheduleHandover(0);
    }
    let adds = 0;
    // The head is always waiting (#leave), so this takes the oldest.
    for (let entry = this.#adds.peek(); entry; entry = this.#adds.peek()) {
      if (entry.since > old || adds++ === ADDS_PER_WRITE) break;
      entries.push(entry);
      this.#leave(entry);
    }
    this.#commit(entries);
  }

  caughtUp(): Promise<void> | undefined {
    if (this.#behindRows <= this.#maxBehind.rows && this.#behindBytes <= this.#maxBehind.bytes) return undefined;
    if (!this.#caughtUp) {
      this.#pauses++;
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#caughtUp = { promise, resolve };
    }
    return this.#caughtUp.promise;
  }

  #tick(): void {
    this.#timer = undefined;
    this.#handOver();
    const head = this.#adds.peek();
    if (head) this.#timer = setTimeout(() => this.#tick(), Math.max(FLUSH_MS, head.since + ADD_WAIT_MS - performance.now()));
  }

  #postFinished(): void {
    if (this.#finished.length === 0) return;
    const entries = this.#finished;
    this.#finished = [];
    this.#commit(entries);
  }

  /** Packs the entries' rows (their blobs in one buffer, transferred, not copied) and hands them to the writer. */
  #commit(entries: Entry[]): void {
    if (entries.length === 0) return;
    let size = 0;
    for (const entry of entries) {
      if (entry.seq !== undefined && entry.frames) size += packedSize(entry.frames);
      if (entry.result) size += packedSize(entry.result);
    }
    const blobs = Buffer.from(new ArrayBuffer(size));
    let at = 0;
    const rows: WriteRow[] = [];
    const added: AddedRows = [];
    const finished: FinishedRows = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const r = entry.record;
      const plain = !r.hasStoredExtras();
      if (entry.seq === undefined && entry.rowSeq !== 0 && plain) {
        const resultAt = at;
        if (entry.result) at = packInto(entry.result, blobs, at);
        finished.push(entry.rowSeq, r.msgId, r.engineId, r.started ?? null, r.completed ?? null, r.status ?? null, resultAt, entry.result?.length ? at - resultAt : -1, r.resultBytes);
        continue;
      }
      const requestFrames = entry.seq !== undefined ? entry.frames : undefined;
      const requestAt = at;
      if (requestFrames) at = packInto(requestFrames, blobs, at);
      const requestLength = requestFrames?.length ? at - requestAt : -1;
      const resultAt = at;
      if (entry.result) at = packInto(entry.result, blobs, at);
      const resultLength = entry.result?.length ? at - resultAt : -1;
      if (entry.seq !== undefined && plain) {
        added.push(
          entry.seq, r.msgId, r.client.key, r.engineId, r.kind, r.submitted, r.started ?? null, r.completed ?? null, r.status ?? null,
          requestFrames ? requestJson(entry.body!, entry.lb) : null, requestAt, requestLength, resultAt, resultLength, r.resultBytes,
        );
        continue;
      }
      rows.push([
        entry.seq ?? null, r.msgId, r.client.key, r.engineId, r.kind, r.submitted, r.started ?? null, r.completed ?? null, r.status ?? null,
        r.error ? JSON.stringify(r.error) : null, r.stdout ?? null, r.stderr ?? null, r.repr ?? null, r.executionCount ?? null,
        requestFrames ? requestJson(entry.body!, entry.lb) : null, requestAt, requestLength, resultAt, resultLength, r.resultBytes,
        r.note ?? null, r.resubmitted ?? null, entry.rowSeq,
      ]);
    }
    const n = this.#nextBatch++;
    if (!this.#writer.write(n, rows, added, finished, blobs.buffer as ArrayBuffer)) return;
    this.#batches++;
    this.#written += entries.length;
    this.#inFlight.push({ n, entries, bytes: size });
    this.#postedIndex = undefined;
    this.#behindRows += entries.length;
    this.#behindBytes += size;
  }

  /**
   * A task's rows handed to the writer and not committed yet: the newest (what a result read sees) and
   * the one that added it (its arguments), if they are among them. At most the writer's bound of rows
   * behind (`--db-max-behind-rows`) is scanned, and only for reads of tasks that are not live records.
   */
  #postedEntries(msgId: string): PostedRows {
    if (this.#inFlight.length === 0) return NONE_POSTED;
    if (!this.#postedIndex) {
      const index = new Map<string, PostedRows>();
      // Oldest first, so the newest row of a task is the one that stays `latest`.
      for (const batch of this.#inFlight) {
        for (const entry of batch.entries) {
          let rows = index.get(entry.record.msgId);
          if (!rows) index.set(entry.record.msgId, (rows = {}));
          rows.latest = entry;
          if (entry.seq !== undefined) rows.added = entry;
        }
      }
      this.#postedIndex = index;
    }
    return this.#postedIndex.get(msgId) ?? NONE_POSTED;
  }

  /** The writer committed every batch up to `batch`: they are read from the file now. */
  #committed(batch: number, totals: StoreTotals): void {
    for (let head = this.#inFlight.peek(); head && head.n <= batch; head = this.#inFlight.peek()) {
      this.#inFlight.shift();
      this.#postedIndex = undefined;
      this.#behindRows -= head.entries.length;
      this.#behindBytes -= head.bytes;
    }
    this.#totals(totals);
    this.#wake();
  }

  #forgetInFlight(): void {
    while (this.#inFlight.shift());
    this.#postedIndex = undefined;
    this.#behindRows = 0;
    this.#behindBytes = 0;
    this.#wake();
  }

  /** Reading resumes at half the bounds, so that it does not stop and go on every batch. */
  #wake(): void {
    if (!this.#caughtUp || this.#behindRows > this.#maxBehind.rows / 2 || this.#behindBytes > this.#maxBehind.bytes / 2) return;
    this.#caughtUp.resolve();
    this.#caughtUp = undefined;
  }

  #totals(totals: StoreTotals): void {
    this.#rows = totals.rows;
    this.#bytes = totals.bytes;
  }

  /** Hands over what waits, lets the writer commit it (waiting for it, bounded), and closes. */
  close(): void {
    this.flush();
    this.#writer.close();
    this.log.debug(`task store: ${this.#written} write(s) in ${this.#batches} batch(es)`);
    this.#db.close();
    this.#lock.close();
  }

  stats(): NonNullable<ClusterSnapshot["store"]> {
    return {
      kind: "sqlite", location: this.location, records: this.#rows, bytes: this.#bytes, waiting: this.#addsWaiting + this.#finished.length + this.#behindRows,
      behind: { rows: this.#behindRows, bytes: this.#behindBytes, paused: this.#caughtUp !== undefined, pauses: this.#pauses },
    };
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => this.#tick(), FLUSH_MS);
  }

  #recount(): void {
    this.#totals(this.#db.prepare("SELECT count(*) AS rows, coalesce(sum(coalesce(length(request_frames), 0) + coalesce(length(result_frames), 0)), 0) AS bytes FROM tasks").get() as StoreTotals);
  }

  #read<T>(what: string, read: () => T): T | undefined {
    try {
      return read();
    } catch (err) {
      this.log.error(`task store: could not read ${what}: ${(err as Error).message}`);
      return undefined;
    }
  }
}

/** A shared body's JSON, made once for all the tasks that carry it (a map's); others are made each time, their function's JSON once. */
const sharedBodyJson = new WeakMap<TaskBody, string>();

/** The stored form of a request: `{"body":…,"lb":…}`. */
function requestJson(taskBody: TaskBody, lb: TaskRequest["lb"] | undefined): string {
  let body = sharedBodyJson.get(taskBody);
  if (body === undefined) {
    body = bodyJson(taskBody);
    if (isShared(taskBody)) sharedBodyJson.set(taskBody, body);
  }
  return lb ? `{"body":${body},"lb":${JSON.stringify(lb)}}` : `{"body":${body}}`;
}

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > KEEP_RECENT) map.delete(map.keys().next().value!);
}
