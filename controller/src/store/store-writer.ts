/**
 * The task store's writer thread: it owns the only connection that writes the tasks table, so that
 * inserts, culls and WAL checkpoints (an fsync each) never hold the controller's event loop. The
 * controller's thread posts what changed (ToWriter) and reads through its own connection (WAL lets
 * it read while this one writes). Messages are applied in the order they came; all those that
 * arrived together go in one transaction.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { ADDED_STRIDE, FINISHED_STRIDE, STORED_BYTES, type AddedRows, type FinishedRows, type FromWriter, type StoreTotals, type ToWriter, type WriteRow } from "./sqlite-schema.js";
import type { StoreLimits } from "./task-store.js";

export interface WriterData {
  location: string;
  limits: StoreLimits;
  /** Set to 1 (and notified) once the writer has closed its connection. */
  closed: Int32Array;
}

/** Engines and function sources are few; still, nothing here grows without bound. */
const KEEP_ENGINES = 10_000;
const KEEP_FUNCTIONS = 10_000;
/** Culling removes this fraction more than needed, so it does not run on every write. */
const CULL_FRACTION = 0.1;
/** Most finished records one cull transaction removes (then the queue is served again). */
const CULL_ROWS_AT_ONCE = 5_000;

const { location, limits, closed } = workerData as WriterData;
const port = parentPort!;
const post = (message: FromWriter) => port.postMessage(message);

// Another process (a backup, a reader taking the write lock) may hold the file for a while: wait for it
// here, off the loop, rather than lose the batch.
const db = new Database(location, { timeout: 60_000 });
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");

const insert = db.prepare(`
  INSERT INTO tasks (seq, msg_id, client, engine_id, kind, submitted, started, completed, status, error, stdout, stderr, repr,
                     execution_count, request, request_frames, result_frames, result_bytes, note, resubmitted)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
const update = db.prepare(`
  UPDATE tasks SET engine_id = ?, started = ?, completed = ?, status = ?, error = ?, stdout = ?, stderr = ?, repr = ?,
    execution_count = ?, result_frames = ?, result_bytes = ?, note = ?, resubmitted = coalesce(?, resubmitted)
  WHERE msg_id = ?`);
const insertPlain = db.prepare(`
  INSERT INTO tasks (seq, msg_id, client, engine_id, kind, submitted, started, completed, status, request, request_frames, result_frames, result_bytes)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
// By rowid: a finished task's update of its pending row without the msg_id index (~20% less per row).
const updateBySeq = db.prepare(`
  UPDATE tasks SET engine_id = ?, started = ?, completed = ?, status = ?, error = ?, stdout = ?, stderr = ?, repr = ?,
    execution_count = ?, result_frames = ?, result_bytes = ?, note = ?, resubmitted = coalesce(?, resubmitted)
  WHERE seq = ? AND msg_id = ?`);
// The common second write (FinishedRows): only what finishing changes, by rowid.
const finishBySeq = db.prepare("UPDATE tasks SET engine_id = ?, started = ?, completed = ?, status = ?, result_frames = ?, result_bytes = ? WHERE seq = ? AND msg_id = ?");
const finishByMsgId = db.prepare("UPDATE tasks SET engine_id = ?, started = ?, completed = ?, status = ?, result_frames = ?, result_bytes = ? WHERE msg_id = ?");
const markResubmitted = db.prepare("UPDATE tasks SET resubmitted = ? WHERE msg_id = ?");
const learnFunction = db.prepare("INSERT OR IGNORE INTO functions (hash, source) VALUES (?, ?)");
const trimFunctions = db.prepare("DELETE FROM functions WHERE seq <= (SELECT max(seq) FROM functions) - ?");
const putEngine = db.prepare("INSERT OR REPLACE INTO engines (id, uuid, hostname, pid, registered) VALUES (@id, @uuid, @hostname, @pid, @registered)");
const putNextId = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_engine_id', ?)");
const trimEngines = db.prepare("DELETE FROM engines WHERE id <= (SELECT max(id) FROM engines) - ?");
const purgeOne = db.prepare("DELETE FROM tasks WHERE msg_id = ? AND status IS NOT NULL");
const purgeAll = db.prepare("DELETE FROM tasks WHERE status IS NOT NULL");
const cullCandidates = db.prepare(`SELECT seq, ${STORED_BYTES} AS bytes FROM tasks WHERE status IS NOT NULL ORDER BY seq`);
// The oldest `?` finished rows summed inside SQLite: a row object per culled row cost the writer about a
// tenth of its CPU in a 1M-item map (it culls every task it writes once past --db-max-records).
const cullOldest = db.prepare(`SELECT max(seq) AS lastSeq, count(*) AS rows, coalesce(sum(bytes), 0) AS bytes
  FROM (SELECT seq, ${STORED_BYTES} AS bytes FROM tasks WHERE status IS NOT NULL ORDER BY seq LIMIT ?)`);
const cullUpTo = db.prepare("DELETE FROM tasks WHERE status IS NOT NULL AND seq <= ?");
const count = db.prepare(`SELECT count(*) AS rows, coalesce(sum(${STORED_BYTES}), 0) AS bytes FROM tasks`);

const totals: StoreTotals = count.get() as StoreTotals;
let queue: ToWriter[] = [];
let draining = false;
let closing = false;

function blob(blobs: Buffer, at: number, length: number): Buffer | null {
  return length < 0 ? null : blobs.subarray(at, at + length);
}

function writeRow(row: WriteRow, blobs: Buffer): void {
  const [seq, msgId, client, engineId, kind, submitted, started, completed, status, error, stdout, stderr, repr, executionCount, request, requestAt, requestLength, resultAt, resultLength, resultBytes, note, resubmitted, rowSeq] = row;
  const results = blob(blobs, resultAt, resultLength);
  if (seq !== null) {
    const requestFrames = blob(blobs, requestAt, requestLength);
    const written = insert.run(seq, msgId, client, engineId, kind, submitted, started, completed, status, error, stdout, stderr, repr, executionCount, request, requestFrames, results, resultBytes, note, resubmitted).changes;
    if (written === 0) return;
    totals.rows++;
    totals.bytes += requestFrames?.length ?? 0;
  } else if (rowSeq === 0 || updateBySeq.run(engineId, started, completed, status, error, stdout, stderr, repr, executionCount, results, resultBytes, note, resubmitted, rowSeq, msgId).changes === 0) {
    // A row inserted under another seq (a task requeued after a restart keeps its old row) or not known by seq.
    update.run(engineId, started, completed, status, error, stdout, stderr, repr, executionCount, results, resultBytes, note, resubmitted, msgId);
  }
  totals.bytes += results?.length ?? 0;
}

function writeAdded(added: AddedRows, blobs: Buffer): void {
  for (let i = 0; i < added.length; i += ADDED_STRIDE) {
    const requestFrames = blob(blobs, added[i + 10] as number, added[i + 11] as number);
    const results = blob(blobs, added[i + 12] as number, added[i + 13] as number);
    const written = insertPlain.run(added[i], added[i + 1], added[i + 2], added[i + 3], added[i + 4], added[i + 5], added[i + 6], added[i + 7], added[i + 8], added[i + 9], requestFrames, results, added[i + 14]).changes;
    if (written === 0) continue;
    totals.rows++;
    totals.bytes += (requestFrames?.length ?? 0) + (results?.length ?? 0);
  }
}

function writeFinished(finished: FinishedRows, blobs: Buffer): void {
  for (let i = 0; i < finished.length; i += FINISHED_STRIDE) {
    const msgId = finished[i + 1] as string;
    const engineId = finished[i + 2] as number | null;
    const started = finished[i + 3] as number | null;
    const completed = finished[i + 4] as number | null;
    const status = finished[i + 5] as string | null;
    const results = blob(blobs, finished[i + 6] as number, finished[i + 7] as number);
    const resultBytes = finished[i + 8] as number;
    // Another seq than its row's (a task requeued after a restart keeps its old row): by msgId.
    if (finishBySeq.run(engineId, started, completed, status, results, resultBytes, finished[i] as number, msgId).changes === 0) {
      finishByMsgId.run(engineId, started, completed, status, results, resultBytes, msgId);
    }
    totals.bytes += results?.length ?? 0;
  }
}

/** Applies one message inside the open transaction; returns the reply to post after the commit. */
function apply(message: ToWriter): FromWriter | undefined {
  switch (message.op) {
    case "write": {
      const blobs = Buffer.from(message.blobs);
      for (const row of message.rows) writeRow(row, blobs);
      writeAdded(message.added, blobs);
      writeFinished(message.finished, blobs);
      return { op: "written", batch: message.batch, ...totals };
    }
    case "resubmitted":
      markResubmitted.run(message.newMsgId, message.msgId);
      return undefined;
    case "function":
      learnFunction.run(message.hash, message.source);
      trimFunctions.run(KEEP_FUNCTIONS);
      return undefined;
    case "engine":
      putEngine.run(message.engine);
      putNextId.run(String(message.nextId));
      trimEngines.run(KEEP_ENGINES);
      return undefined;
    case "purge": {
      let purged = 0;
      if (message.msgIds === "all") purged = purgeAll.run().changes;
      else for (const msgId of message.msgIds) purged += purgeOne.run(msgId).changes;
      recount();
      return { op: "done", id: message.id, purged, ...totals };
    }
    case "sync":
      return { op: "done", id: message.id, ...totals };
    case "close":
      closing = true;
      return undefined;
  }
}

/** One transaction for everything queued; a failure loses that transaction's rows, said once, and the writer goes on. */
function drain(): void {
  draining = false;
  if (queue.length === 0) return;
  const messages = queue;
  queue = [];
  const replies: FromWriter[] = [];
  const before = { ...totals };
  try {
    db.transaction(() => {
      for (const message of messages) {
        const reply = apply(message);
        if (reply) replies.push(reply);
      }
    })();
  } catch (err) {
    Object.assign(totals, before);
    replies.length = 0;
    let rows = 0;
    for (const message of messages) {
      if (message.op === "write") {
        rows += message.rows.length + message.added.length / ADDED_STRIDE + message.finished.length / FINISHED_STRIDE;
        replies.push({ op: "written", batch: message.batch, ...totals });
      } else if (message.op === "purge" || message.op === "sync") replies.push({ op: "done", id: message.id, error: (err as Error).message, ...totals });
    }
    post({ op: "lost", rows, message: (err as Error).message });
  }
  cull();
  for (const reply of replies) post(reply);
  if (closing) finish();
}

/**
 * Drops the oldest finished tasks until both bounds are a tenth under their limit, CULL_ROWS_AT_ONCE
 * at a time (what came meanwhile is written in between). Off the controller's loop, so it may be long.
 */
function cull(): void {
  while (totals.rows > limits.maxRecords || totals.bytes > limits.maxBytes) {
    const rowsOver = totals.rows - Math.floor(limits.maxRecords * (1 - CULL_FRACTION));
    const bytesOver = totals.bytes - Math.floor(limits.maxBytes * (1 - CULL_FRACTION));
    // Over the row bound alone (a big map of small values): the first rowsOver rows, counted in SQL.
    let { lastSeq, rows, bytes } = cullOldest.get(Math.min(CULL_ROWS_AT_ONCE, Math.max(rowsOver, 1))) as { lastSeq: number | null; rows: number; bytes: number };
    if (bytes < bytesOver && rows < CULL_ROWS_AT_ONCE) {
      // Over the byte bound: as many of the oldest as it takes, row by row.
      rows = 0;
      bytes = 0;
      lastSeq = null;
      for (const row of cullCandidates.iterate() as IterableIterator<{ seq: number; bytes: number }>) {
        if ((rows >= rowsOver && bytes >= bytesOver) || rows >= CULL_ROWS_AT_ONCE) break;
        rows++;
        bytes += row.bytes;
        lastSeq = row.seq;
      }
    }
    if (lastSeq === null) return;
    try {
      const deleted = cullUpTo.run(lastSeq).changes;
      if (deleted === rows) {
        totals.rows -= rows;
        totals.bytes -= bytes;
      } else recount();
    } catch (err) {
      post({ op: "log", level: "error", text: `task store: culling failed: ${(err as Error).message}` });
      return;
    }
    post({ op: "log", level: "debug", text: `task store: culled ${rows} finished record(s), ${bytes} bytes` });
    if (queue.length) return;
  }
}

function recount(): void {
  Object.assign(totals, count.get() as StoreTotals);
}

function finish(): void {
  db.close();
  Atomics.store(closed, 0, 1);
  Atomics.notify(closed, 0);
  port.close();
}

port.on("message", (message: ToWriter) => {
  queue.push(message);
  if (!draining) {
    draining = true;
    setImmediate(drain);
  }
});
