import { hostname } from "node:os";
import { clientConnectionFile, engineConnectionFile, createLogger, type Logger } from "@tsparallel/protocol";
import { DEFAULT_RECORD_LIMITS, type RecordLimits } from "./records/task-records.js";
import { SCHEMES, type SchemeName } from "./schedulers/index.js";
import type { WindowMode } from "./task-durations.js";

export interface ControllerOptions {
  /** Profile name: selects the security dir for the connection files. Default "default". */
  profile?: string;
  /** Address to bind. Default 127.0.0.1. */
  ip?: string;
  /** Address peers connect to. Default: `ip`, or this host's name when binding 0.0.0.0. */
  location?: string;
  /** Load-balancing scheme. Default leastload. */
  scheme?: SchemeName;
  /** Max outstanding tasks per engine for the load-balanced scheduler; 0 = unlimited. Default 64. */
  hwm?: number;
  /**
   * "adaptive" (default): an engine holds as many tasks as cover ~2 ms of their measured run time, up to
   * hwm (slow start at 2 for a function not seen yet). "hwm": always up to hwm, as ipyparallel does.
   */
  lbWindow?: WindowMode;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /**
   * What happens to the unstarted tasks of a client that is gone (silent for as long as an engine may
   * be): "abort" (default) aborts them, in the controller and on engines; "keep" lets them run.
   */
  orphanTasks?: OrphanTasks;
  clientFile?: string;
  engineFile?: string;
  recordLimits?: RecordLimits;
  logger?: Logger;
}

export type OrphanTasks = "abort" | "keep";

export type ResolvedOptions = Required<ControllerOptions>;

export class OptionsError extends Error {
  override name = "OptionsError";
}

function positive(name: string, value: number, allowZero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) throw new OptionsError(`${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${value}`);
  return value;
}

function lbWindow(mode: WindowMode = "adaptive"): WindowMode {
  if (mode !== "adaptive" && mode !== "hwm") throw new OptionsError(`lbWindow must be "adaptive" or "hwm", got ${String(mode)}`);
  return mode;
}

function orphanTasks(mode: OrphanTasks = "abort"): OrphanTasks {
  if (mode !== "abort" && mode !== "keep") throw new OptionsError(`orphanTasks must be "abort" or "keep", got ${String(mode)}`);
  return mode;
}

export function resolveOptions(options: ControllerOptions = {}): ResolvedOptions {
  const profile = options.profile ?? "default";
  const ip = options.ip ?? "127.0.0.1";
  const scheme = options.scheme ?? "leastload";
  if (!SCHEMES.includes(scheme)) throw new OptionsError(`unknown scheme ${scheme}; choose one of ${SCHEMES.join(", ")}`);
  const heartbeatMs = positive("heartbeatMs", options.heartbeatMs ?? 500);
  const heartbeatTimeoutMs = positive("heartbeatTimeoutMs", options.heartbeatTimeoutMs ?? 3000);
  if (heartbeatTimeoutMs <= heartbeatMs) throw new OptionsError("heartbeatTimeoutMs must exceed heartbeatMs");
  return {
    profile,
    ip,
    location: options.location ?? (ip === "0.0.0.0" || ip === "*" ? hostname() : ip),
    scheme,
    hwm: Math.floor(positive("hwm", options.hwm ?? 64, true)),
    lbWindow: lbWindow(options.lbWindow),
    heartbeatMs,
    heartbeatTimeoutMs,
    orphanTasks: orphanTasks(options.orphanTasks),
    clientFile: options.clientFile ?? clientConnectionFile(profile),
    engineFile: options.engineFile ?? engineConnectionFile(profile),
    recordLimits: options.recordLimits ?? DEFAULT_RECORD_LIMITS,
    logger: options.logger ?? createLogger("controller"),
  };
}
