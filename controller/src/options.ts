import { hostname } from "node:os";
import { join } from "node:path";
import { clientConnectionFile, clusterFilePrefix, validateClusterId, engineConnectionFile, createLogger, messageLimits, profileDir, type Logger } from "@tsparallel/protocol";
import { DEFAULT_RECORD_LIMITS, type RecordLimits } from "./records/task-records.js";
import { SCHEMES, type SchemeName } from "./schedulers/index.js";
import { DEFAULT_STORE_LIMITS, type StoreKind, type StoreLimits } from "./store/task-store.js";
import type { WindowMode } from "./task-durations.js";
import { DEFAULT_KEEP_ENDED_ENGINES } from "./engines-registry.js";
import { DEFAULT_CONNECTION_CAPS } from "./connection-caps.js";

/**
 * The load balancer's cap on tasks outstanding per engine. The adaptive window (task-durations.ts) holds
 * an engine to ~2 ms of measured work, so the cap binds only for tasks shorter than 2 ms / hwm (8 µs at
 * 256), and tiny tasks then travel about half of it per message: 5,000 tiny applies on 2 engines went
 * 36 to a message with 64, 65-73 with 256, at ~15% less CPU per task in all four processes.
 */
export const DEFAULT_HWM = 256;

export interface ControllerOptions {
  /** Profile name: selects the security dir for the connection files. Default "default". */
  profile?: string;
  /**
   * One of several clusters in the profile (ipyparallel's `cluster_id`): its connection files and task
   * store are `tspcontroller-<id>-*`. Default "": the profile's own cluster.
   */
  clusterId?: string;
  /** Address to bind. Default 127.0.0.1. */
  ip?: string;
  /** Address peers connect to. Default: `ip`, or this host's name when binding 0.0.0.0. */
  location?: string;
  /**
   * ZeroMQ CURVE on every socket (encryption, and only holders of the connection file's client key
   * connect). Default: on when `ip` is not a loopback address.
   */
  curve?: boolean;
  /** Load-balancing scheme. Default leastload. */
  scheme?: SchemeName;
  /** Max outstanding tasks per engine for the load-balanced scheduler; 0 = unlimited. Default DEFAULT_HWM. */
  hwm?: number;
  /**
   * "adaptive" (default): an engine holds as many tasks as cover ~2 ms of their measured run time, up to
   * hwm (slow start at 2 for a function not seen yet). "hwm": always up to hwm, as ipyparallel does.
   */
  lbWindow?: WindowMode;
  /** How often engines beat, ms (sent to each engine in its registration reply). Default 1000. */
  heartbeatMs?: number;
  /**
   * Beats in a row an engine may miss, counted from its last beat, before it is declared dead.
   * Default 15: see DEFAULT_HEARTBEAT for why.
   */
  heartbeatMisses?: number;
  /** Older form of heartbeatMisses, as a silence in ms: misses = ceil(timeout / period). Ignored when heartbeatMisses is given. */
  heartbeatTimeoutMs?: number;
  /**
   * What happens to the unstarted tasks of a client that is gone (silent for as long as an engine may
   * be): "abort" (default) aborts them, in the controller and on engines; "keep" lets them run.
   */
  orphanTasks?: OrphanTasks;
  clientFile?: string;
  engineFile?: string;
  recordLimits?: RecordLimits;
  /** Task store: "sqlite" (a file in the profile directory; the default when that exists) or "memory". */
  db?: StoreKind;
  /** The SQLite file; default `<profile dir>/tspcontroller-tasks.sqlite`. */
  dbFile?: string;
  storeLimits?: StoreLimits;
  /**
   * Come back after a crash: bind the ports and reuse the key of the profile's connection files (when
   * they exist), keep the task store's records and engine table; tasks left pending fail.
   */
  restore?: boolean;
  /** Bytes of function source kept (least recently used out). Default TSPARALLEL_FUNCTION_CACHE_BYTES or 64 MiB. */
  functionCacheBytes?: number;
  /** Dead and stopped engines kept in memory and snapshots (the most recently ended). Default 256. */
  keepEndedEngines?: number;
  /** New engines that may register per second, in bursts of ten seconds' worth; more are told to ask again. Default 100. */
  newEnginesPerSecond?: number;
  /**
   * Connections that finished their handshake one peer address may hold on one port; more are refused
   * during the handshake. Default 1024.
   */
  maxConnectionsPerAddress?: number;
  /** Connections that finished their handshake one port may hold, from all addresses. Default 4096, and at most what the open-file limit leaves. */
  maxConnectionsPerPort?: number;
  logger?: Logger;
}

export const DEFAULT_NEW_ENGINES_PER_SECOND = 100;

export type OrphanTasks = "abort" | "keep";

export type ResolvedOptions = Required<Omit<ControllerOptions, "db" | "dbFile">> & Pick<ControllerOptions, "db" | "dbFile">;

/**
 * 1 s beats, dead after 15 missed. Measured with `npm run bench -- --soak` on this 2-core machine
 * (shared with other builds, load average up to 20) with 64 engines under two minutes of CPU-bound
 * load: the longest gap between two beats of an engine, as the controller's snapshots showed it, was
 * 2.7-3.0 s, so 15 s is a 5x margin, while a crashed engine's tasks still move on within 15 s
 * (ipyparallel: 10 x 3 s). The controller's own stalls are not counted at all (LoopLag), and the
 * wait for a first beat has its own grace (firstBeatGraceMs, 60 s).
 */
export const DEFAULT_HEARTBEAT = { periodMs: 1000, misses: 15 } as const;

export class OptionsError extends Error {
  override name = "OptionsError";
}

function positive(name: string, value: number, allowZero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) throw new OptionsError(`${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${value}`);
  return value;
}

function wholePositive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new OptionsError(`${name} must be a positive whole number, got ${value}`);
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

function storeKind(db: StoreKind | undefined): StoreKind | undefined {
  if (db !== undefined && db !== "sqlite" && db !== "memory") throw new OptionsError(`db must be "sqlite" or "memory", got ${String(db)}`);
  return db;
}

function storeLimits(limits: StoreLimits): StoreLimits {
  positive("storeLimits.maxRecords", limits.maxRecords);
  positive("storeLimits.maxBytes", limits.maxBytes);
  positive("storeLimits.maxValueBytes", limits.maxValueBytes, true);
  if (limits.maxBehindRows !== undefined) positive("storeLimits.maxBehindRows", limits.maxBehindRows);
  if (limits.maxBehindBytes !== undefined) positive("storeLimits.maxBehindBytes", limits.maxBehindBytes);
  return limits;
}

/** 127.0.0.0/8, ::1 and localhost: only this host can reach them, so plaintext stays on the host. */
export function isLoopback(ip: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || ip === "::1" || ip === "[::1]" || ip === "localhost";
}

export function resolveOptions(options: ControllerOptions = {}): ResolvedOptions {
  const profile = options.profile ?? "default";
  const clusterId = options.clusterId ?? "";
  try {
    validateClusterId(clusterId);
  } catch (err) {
    throw new OptionsError((err as Error).message);
  }
  const ip = options.ip ?? "127.0.0.1";
  const scheme = options.scheme ?? "leastload";
  if (!SCHEMES.includes(scheme)) throw new OptionsError(`unknown scheme ${scheme}; choose one of ${SCHEMES.join(", ")}`);
  const heartbeatMs = positive("heartbeatMs", options.heartbeatMs ?? DEFAULT_HEARTBEAT.periodMs);
  let heartbeatMisses: number;
  if (options.heartbeatMisses !== undefined) {
    heartbeatMisses = positive("heartbeatMisses", options.heartbeatMisses);
    if (!Number.isInteger(heartbeatMisses)) throw new OptionsError(`heartbeatMisses must be a whole number, got ${heartbeatMisses}`);
  } else if (options.heartbeatTimeoutMs !== undefined) {
    const timeout = positive("heartbeatTimeoutMs", options.heartbeatTimeoutMs);
    if (timeout <= heartbeatMs) throw new OptionsError("heartbeatTimeoutMs must exceed heartbeatMs");
    heartbeatMisses = Math.ceil(timeout / heartbeatMs);
  } else heartbeatMisses = DEFAULT_HEARTBEAT.misses;
  if (heartbeatMisses < 2) throw new OptionsError(`heartbeatMisses must be at least 2 (one late beat is not a death), got ${heartbeatMisses}`);
  const heartbeatTimeoutMs = heartbeatMs * heartbeatMisses;
  return {
    profile,
    clusterId,
    ip,
    location: options.location ?? (ip === "0.0.0.0" || ip === "*" ? hostname() : ip),
    curve: options.curve ?? !isLoopback(ip),
    scheme,
    hwm: Math.floor(positive("hwm", options.hwm ?? DEFAULT_HWM, true)),
    lbWindow: lbWindow(options.lbWindow),
    heartbeatMs,
    heartbeatMisses,
    heartbeatTimeoutMs,
    orphanTasks: orphanTasks(options.orphanTasks),
    clientFile: options.clientFile ?? clientConnectionFile(profile, clusterId),
    engineFile: options.engineFile ?? engineConnectionFile(profile, clusterId),
    recordLimits: options.recordLimits ?? DEFAULT_RECORD_LIMITS,
    db: storeKind(options.db),
    dbFile: options.dbFile ?? (clusterId ? join(profileDir(profile), `${clusterFilePrefix(clusterId)}-tasks.sqlite`) : undefined),
    storeLimits: storeLimits(options.storeLimits ?? DEFAULT_STORE_LIMITS),
    restore: options.restore ?? false,
    functionCacheBytes: Math.floor(positive("functionCacheBytes", options.functionCacheBytes ?? messageLimits().functionCacheBytes)),
    keepEndedEngines: Math.floor(positive("keepEndedEngines", options.keepEndedEngines ?? DEFAULT_KEEP_ENDED_ENGINES, true)),
    newEnginesPerSecond: positive("newEnginesPerSecond", options.newEnginesPerSecond ?? DEFAULT_NEW_ENGINES_PER_SECOND),
    maxConnectionsPerAddress: wholePositive("maxConnectionsPerAddress", options.maxConnectionsPerAddress ?? DEFAULT_CONNECTION_CAPS.perAddress),
    maxConnectionsPerPort: wholePositive("maxConnectionsPerPort", options.maxConnectionsPerPort ?? DEFAULT_CONNECTION_CAPS.perPort),
    logger: options.logger ?? createLogger("controller"),
  };
}
