import type { RemoteErrorInfo, TaskDbRecord, TaskKind, TaskStatus } from "@tsparallel/protocol";

/** What the store's two connections share: the schema, the row shape, and the row sent to the writer thread. */
export const SCHEMA_VERSION = "1";

export const SCHEMA = `
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

export interface Row {
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

export const ROW_COLUMNS = "seq, msg_id, client, engine_id, kind, submitted, started, completed, status, error, stdout, stderr, repr, execution_count, result_bytes, note, resubmitted";
export const STORED_BYTES = "coalesce(length(request_frames), 0) + coalesce(length(result_frames), 0)";

export function toDbRecord(row: Row): TaskDbRecord {
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
 * One task row on its way to the writer thread, positional (a structured clone of arrays is cheaper
 * than of objects with 20 keys). Blobs are [offset, length] into the batch's one transferred buffer
 * (length -1: NULL), so no Buffer is cloned: cloning a Buffer copies its whole pool slab.
 * `seq` set: insert (a task written for the first time); null: update of a row written before, found
 * by `rowSeq` (the seq it was inserted under: the table's rowid, no index lookup) or, when that is 0 or
 * names another task's row, by its msgId.
 */
export type WriteRow = [
  seq: number | null,
  msgId: string,
  client: string,
  engineId: number | null,
  kind: TaskKind,
  submitted: number,
  started: number | null,
  completed: number | null,
  status: TaskStatus | null,
  error: string | null,
  stdout: string | null,
  stderr: string | null,
  repr: string | null,
  executionCount: number | null,
  request: string | null,
  requestAt: number,
  requestLength: number,
  resultAt: number,
  resultLength: number,
  resultBytes: number,
  note: string | null,
  resubmitted: string | null,
  rowSeq: number,
];

/**
 * The rows that finish tasks written pending with none of the rare fields (error, output, repr, count,
 * note, resubmitted): the common second write of a task that waited over ADD_WAIT_MS (a big map's), flat,
 * FINISHED_STRIDE values each: rowSeq, msgId, engineId, started, completed, status, resultAt,
 * resultLength, resultBytes. A third of a full row to clone on both threads and to bind.
 */
export type FinishedRows = (string | number | null)[];
export const FINISHED_STRIDE = 9;

/**
 * The rows that insert tasks with none of those rare fields (nearly all: a tiny task finished at once,
 * a big map's task written pending), flat, ADDED_STRIDE values each: seq, msgId, client, engineId, kind,
 * submitted, started, completed, status, request, requestAt, requestLength, resultAt, resultLength,
 * resultBytes. No array of 23 per row to build and clone, and 15 values to bind, not 20.
 */
export type AddedRows = (string | number | null)[];
export const ADDED_STRIDE = 15;

export interface StoredEngineRow {
  id: number;
  uuid: string;
  hostname: string;
  pid: number;
  registered: number;
}

/** Messages to the writer thread; they are applied in the order sent. */
export type ToWriter =
  | { op: "write"; batch: number; rows: WriteRow[]; added: AddedRows; finished: FinishedRows; blobs: ArrayBuffer }
  | { op: "resubmitted"; msgId: string; newMsgId: string }
  | { op: "function"; hash: string; source: string }
  | { op: "engine"; engine: StoredEngineRow; nextId: number }
  | { op: "purge"; id: number; msgIds: string[] | "all" }
  | { op: "sync"; id: number }
  | { op: "close" };

/** Totals of the tasks table after the writer's last commit. */
export interface StoreTotals {
  rows: number;
  bytes: number;
}

export type FromWriter =
  | ({ op: "written"; batch: number } & StoreTotals)
  | { op: "lost"; rows: number; message: string }
  | ({ op: "done"; id: number; purged?: number; error?: string } & StoreTotals)
  | { op: "log"; level: "debug" | "error"; text: string };
