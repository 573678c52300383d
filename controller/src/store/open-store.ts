import { existsSync } from "node:fs";
import { join } from "node:path";
import { profileDir, type Logger } from "@tsparallel/protocol";
import type { TaskRecords } from "../records/task-records.js";
import { MemoryTaskStore } from "./memory-store.js";
import { SqliteTaskStore, StoreInUseError } from "./sqlite-store.js";
import type { StoreKind, StoreLimits, TaskStore } from "./task-store.js";

/** The task store file of a profile. */
export function storeFile(profile: string): string {
  return join(profileDir(profile), "tspcontroller-tasks.sqlite");
}

export interface StoreChoice {
  /** undefined: sqlite when the profile directory exists, else memory. */
  db: StoreKind | undefined;
  profile: string;
  file?: string;
  restore: boolean;
  limits: StoreLimits;
  /** The in-memory store's cap on a kept result (the records' own). */
  memoryValueCap: number;
}

export function openStore(choice: StoreChoice, records: TaskRecords, log: Logger): TaskStore {
  const file = choice.file ?? storeFile(choice.profile);
  const kind = choice.db ?? (existsSync(profileDir(choice.profile)) ? "sqlite" : "memory");
  if (kind === "memory") return new MemoryTaskStore(records, choice.memoryValueCap, choice.limits);
  try {
    return SqliteTaskStore.open(file, choice.limits, choice.restore, log);
  } catch (err) {
    // Asked for explicitly: the user must hear that it cannot be had. By default: today's records.
    if (choice.db === "sqlite" || choice.restore) throw err;
    const why = err instanceof StoreInUseError ? err.message : `the task store ${file} cannot be opened: ${(err as Error).message}`;
    log.warn(`${why}; keeping task records in memory`);
    return new MemoryTaskStore(records, choice.memoryValueCap, choice.limits);
  }
}
