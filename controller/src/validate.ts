import { SCHEMES } from "./schedulers/index.js";
import type { TaskBody, TaskRequest } from "@tsparallel/protocol";

/**
 * Shape checks for what peers send. Messages are signed, so these guard against bugs and version
 * skew rather than attackers: a malformed request gets an error, never a crash or half execution.
 */

/** Labels are kept in every record: bounded so they cannot grow the records without limit. */
const MAX_LABEL_LENGTH = 256;
/** A SHA-256 in hex is 64; anything much longer is not a hash. */
const MAX_HASH_LENGTH = 128;
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isIdList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

export { isIdList, isStringList };

function bodyProblem(body: unknown): string | undefined {
  if (body === null || typeof body !== "object") return "body is missing";
  const b = body as Partial<TaskBody> & Record<string, unknown>;
  switch (b.kind) {
    case "execute":
      return typeof b.code === "string" ? undefined : "execute needs code";
    case "apply":
    case "map": {
      const fn = b.fn as Record<string, unknown> | undefined;
      if (!fn || typeof fn.hash !== "string" || typeof fn.name !== "string") return `${b.kind} needs fn {hash, name}`;
      if (fn.hash.length > MAX_HASH_LENGTH) return `fn.hash is longer than ${MAX_HASH_LENGTH} characters`;
      if (fn.source !== undefined && typeof fn.source !== "string") return "fn.source must be a string";
      if (b.inputs !== undefined) return "inputs are set by the controller, not by a client";
      if (b.futures !== undefined) return futuresProblem(b.kind, b.futures);
      if (b.require !== undefined) return requireProblem(b.require);
      return undefined;
    }
    case "pull":
      return typeof b.names === "string" || isStringList(b.names) ? undefined : "pull needs names";
    case "push":
    case "clear":
      return undefined;
    default:
      return `unknown task kind ${JSON.stringify(b.kind)}`;
  }
}

/** Most modules plus functions one task may require. */
export const MAX_REQUIREMENTS = 256;

function requireProblem(require: unknown): string | undefined {
  if (require === null || typeof require !== "object") return "require must be an object";
  const { modules = [], functions = [] } = require as { modules?: unknown; functions?: unknown };
  if (!Array.isArray(modules) || !Array.isArray(functions) || modules.length + functions.length > MAX_REQUIREMENTS) return `require holds arrays of at most ${MAX_REQUIREMENTS} modules and functions`;
  if (!modules.every((m) => Array.isArray(m) && m.length === 3 && typeof m[0] === "string" && typeof m[1] === "string" && typeof m[2] === "boolean")) return "each required module is [name, specifier, default]";
  if (!functions.every((f) => Array.isArray(f) && f.length === 2 && typeof f[0] === "string" && typeof f[1] === "string")) return "each required function is [name, source]";
  return undefined;
}

/** Most task results one task may take as arguments. */
export const MAX_FUTURES = 1024;

function futuresProblem(kind: string, futures: unknown): string | undefined {
  if (kind !== "apply") return "only apply takes task results as arguments";
  if (!Array.isArray(futures) || futures.length === 0 || futures.length > MAX_FUTURES) return `futures must be a non-empty array of at most ${MAX_FUTURES}`;
  for (const f of futures) {
    if (!Array.isArray(f) || f.length < 2 || f.length > 3 || !isInt(f[0]) || f[0] < 0 || typeof f[1] !== "string") return "each future is [argument index, msgId, path?]";
    if (f.length === 3 && !(Array.isArray(f[2]) && f[2].length <= 16 && f[2].every((k: unknown) => typeof k === "string" || isInt(k)))) return "a future's path is an array of keys";
  }
  return undefined;
}

/** Why a task request is malformed, or undefined when it is fine. */
export function taskProblem(task: unknown): string | undefined {
  if (task === null || typeof task !== "object") return "task is not an object";
  const t = task as Partial<TaskRequest>;
  if (!isStringList(t.msgIds) || t.msgIds.length === 0) return "msgIds must be a non-empty string array";
  if (!isInt(t.bufferCount) || t.bufferCount < 0) return "bufferCount must be a non-negative integer";
  if (t.label !== undefined && (typeof t.label !== "string" || t.label.length > MAX_LABEL_LENGTH)) return `label must be a string of at most ${MAX_LABEL_LENGTH} characters`;
  if (t.broadcast !== undefined && typeof t.broadcast !== "boolean") return "broadcast must be a boolean";
  if (t.targets === null) {
    if (t.broadcast) return "a load-balanced task cannot be a broadcast";
    if (t.msgIds.length !== 1) return "a load-balanced task has exactly one msgId";
    if (t.lb !== undefined) {
      if (t.lb === null || typeof t.lb !== "object") return "lb must be an object";
      if (t.lb.targets !== undefined && !isIdList(t.lb.targets)) return "lb.targets must be engine ids";
      if (t.lb.retries !== undefined && !(isInt(t.lb.retries) && t.lb.retries >= 0)) return "lb.retries must be a non-negative integer";
      if (t.lb.retryOnError !== undefined && typeof t.lb.retryOnError !== "boolean") return "lb.retryOnError must be a boolean";
      if (t.lb.timeoutMs !== undefined && typeof t.lb.timeoutMs !== "number") return "lb.timeoutMs must be a number";
      if (t.lb.scheme !== undefined && !(SCHEMES as readonly unknown[]).includes(t.lb.scheme)) return `lb.scheme must be one of ${SCHEMES.join(", ")}`;
    }
  } else {
    if (!isIdList(t.targets)) return "targets must be engine ids or null";
    if (t.targets.length !== t.msgIds.length) return "targets and msgIds differ in length";
  }
  return bodyProblem(t.body);
}
