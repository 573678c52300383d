import type { TaskRecordInfo } from "@tsparallel/protocol";
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
  return info;
}
