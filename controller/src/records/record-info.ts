import type { TaskDbRecord, TaskRecordInfo } from "@tsparallel/protocol";
import type { TaskRecord } from "./task-record.js";

/** The wire form of a record for result_reply; its frames follow the content in order. */
export function recordInfo(record: TaskRecord): TaskRecordInfo {
  const info: TaskRecordInfo = {
    msgId: record.msgId,
    engineId: record.engineId,
    kind: record.kind,
    pending: record.pending,
    submitted: record.submitted,
    bufferCount: record.resultFrames.length,
  };
  if (record.status !== undefined) info.status = record.status;
  if (record.started !== undefined) info.started = record.started;
  if (record.completed !== undefined) info.completed = record.completed;
  if (record.error) info.error = record.error;
  if (record.stdout) info.stdout = record.stdout;
  if (record.stderr) info.stderr = record.stderr;
  if (record.repr !== undefined) info.repr = record.repr;
  if (record.executionCount !== undefined) info.executionCount = record.executionCount;
  if (record.label !== undefined) info.label = record.label;
  if (record.note !== undefined) info.note = record.note;
  return info;
}

/** The task store's form of a live record (what db queries match). */
export function dbRecord(record: TaskRecord): TaskDbRecord {
  return {
    msgId: record.msgId,
    client: record.client.key,
    engineId: record.engineId,
    kind: record.kind,
    pending: record.pending,
    status: record.status ?? null,
    submitted: record.submitted,
    started: record.started ?? null,
    completed: record.completed ?? null,
    error: record.error ?? null,
    stdout: record.stdout ?? null,
    stderr: record.stderr ?? null,
    repr: record.repr ?? null,
    executionCount: record.executionCount ?? null,
    resubmitted: record.resubmitted ?? null,
    resultBytes: record.resultBytes,
    note: record.note ?? null,
  };
}
