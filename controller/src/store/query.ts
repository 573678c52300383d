import type { TaskDbFilter, TaskDbKey, TaskDbRecord } from "@tsparallel/protocol";

/** Every key a task record has in the store, in the order records list them. */
export const TASK_DB_KEYS: readonly TaskDbKey[] = [
  "msgId", "client", "engineId", "kind", "pending", "status", "submitted", "started", "completed",
  "error", "stdout", "stderr", "repr", "executionCount", "resubmitted", "resultBytes", "note",
];
const KEY_SET: ReadonlySet<string> = new Set(TASK_DB_KEYS);

export class QueryError extends Error {
  override name = "QueryError";
}

type Test = (value: unknown) => boolean;

function comparable(a: unknown, b: unknown): boolean {
  return (typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string");
}

/** Equality as a query means it: by value for the error object, null for absent. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

const OPERATORS: Record<string, (operand: unknown, key: string) => Test> = {
  $lt: (b) => (a) => comparable(a, b) && (a as number) < (b as number),
  $gt: (b) => (a) => comparable(a, b) && (a as number) > (b as number),
  $lte: (b) => (a) => comparable(a, b) && (a as number) <= (b as number),
  $gte: (b) => (a) => comparable(a, b) && (a as number) >= (b as number),
  $eq: (b) => (a) => same(a, b),
  $ne: (b) => (a) => !same(a, b),
  $in: (b, key) => {
    if (!Array.isArray(b)) throw new QueryError(`$in on ${key} needs an array`);
    const set = new Set(b);
    return (a) => set.has(a);
  },
  $nin: (b, key) => {
    if (!Array.isArray(b)) throw new QueryError(`$nin on ${key} needs an array`);
    const set = new Set(b);
    return (a) => !set.has(a);
  },
  $exists: (b) => (a) => (a !== null && a !== undefined) === Boolean(b),
};

/** A predicate over stored records; throws QueryError for a filter it cannot mean. */
export function compileFilter(filter: unknown): (record: TaskDbRecord) => boolean {
  if (filter === null || typeof filter !== "object" || Array.isArray(filter)) throw new QueryError("a db query filter must be an object, e.g. { msgId: { $ne: \"\" } }");
  const tests: [TaskDbKey, Test][] = [];
  for (const [key, condition] of Object.entries(filter as TaskDbFilter)) {
    if (!KEY_SET.has(key)) throw new QueryError(`unknown key ${JSON.stringify(key)} in a db query; keys are ${TASK_DB_KEYS.join(", ")}`);
    const isOperators = condition !== null && typeof condition === "object" && !Array.isArray(condition) && Object.keys(condition).some((k) => k.startsWith("$"));
    if (!isOperators) {
      tests.push([key as TaskDbKey, (a) => same(a, condition ?? null)]);
      continue;
    }
    for (const [op, operand] of Object.entries(condition as Record<string, unknown>)) {
      const make = Object.hasOwn(OPERATORS, op) ? OPERATORS[op] : undefined;
      if (!make) throw new QueryError(`unknown operator ${JSON.stringify(op)} on ${key}; operators are ${Object.keys(OPERATORS).join(", ")}`);
      tests.push([key as TaskDbKey, make(operand, key)]);
    }
  }
  return (record) => tests.every(([key, test]) => test(record[key]));
}

/** The keys a query returns: all by default, msgId always. */
export function checkKeys(keys: unknown): TaskDbKey[] {
  if (keys === undefined || keys === null) return [...TASK_DB_KEYS];
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) throw new QueryError("keys must be an array of key names");
  const unknown = keys.filter((k) => !KEY_SET.has(k));
  if (unknown.length) throw new QueryError(`unknown key(s) ${unknown.join(", ")}; keys are ${TASK_DB_KEYS.join(", ")}`);
  return keys.includes("msgId") ? (keys as TaskDbKey[]) : ["msgId", ...(keys as TaskDbKey[])];
}

export function project(record: TaskDbRecord, keys: readonly TaskDbKey[]): Partial<TaskDbRecord> {
  const out: Partial<Record<TaskDbKey, unknown>> = {};
  for (const key of keys) out[key] = record[key];
  return out as Partial<TaskDbRecord>;
}
