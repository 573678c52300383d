import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { validateCurveKeys, type CurveKeys } from "./curve.js";

export const SIGNATURE_SCHEME = "hmac-sha256";

interface ConnectionBase {
  /** Transport for every socket of the cluster. */
  transport: "tcp";
  /** Address the sockets are bound on (127.0.0.1 by default). */
  ip: string;
  /** Address peers connect to: differs from `ip` when binding all interfaces. */
  location: string;
  key: string;
  signature_scheme: typeof SIGNATURE_SCHEME;
  /** Every socket of the cluster uses ZeroMQ CURVE (encrypted; only holders of `curve_keys` connect). */
  curve?: boolean;
  /** The cluster's CURVE keys (curve.ts), used when `curve` is true. */
  curve_keys?: CurveKeys;
  profile: string;
  controller: { pid: number; hostname: string; started: string };
}

/** What a client needs: written to `tspcontroller-client.json`. */
export interface ClientConnectionInfo extends ConnectionBase {
  kind: "client";
  ports: { client: number; events: number };
}

/** What an engine needs: written to `tspcontroller-engine.json`. */
export interface EngineConnectionInfo extends ConnectionBase {
  kind: "engine";
  ports: { engine: number; heartbeat: number };
}

export type ConnectionInfo = ClientConnectionInfo | EngineConnectionInfo;

export class ConnectionFileError extends Error {
  override name = "ConnectionFileError";
}

/** Root of all profiles: `$TSPARALLEL_DIR`, else `~/.tsparallel`. */
export function baseDir(): string {
  return process.env.TSPARALLEL_DIR || join(homedir(), ".tsparallel");
}

/** A profile name is one path component: letters, digits, `.`, `_`, `-`, and not `.` or `..`. */
const PROFILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

export class ProfileError extends ConnectionFileError {
  override name = "ProfileError";
}

export function validateProfileName(profile: string): string {
  if (typeof profile !== "string" || !PROFILE_NAME.test(profile) || /^\.+$/.test(profile)) {
    throw new ProfileError(`invalid profile name ${JSON.stringify(profile)}: use letters, digits, '.', '_' and '-' only (no path separators, not '.' or '..')`);
  }
  return profile;
}

export function profileDir(profile = "default"): string {
  return join(baseDir(), `profile_${validateProfileName(profile)}`);
}

/**
 * Creates `dir` if missing, 0700 (chmod too, past the umask). A directory that already exists is
 * left exactly as it is: it may be shared (a 1777 TSPARALLEL_DIR) or someone else's.
 * A failure names the directory and the cause (read-only file system, a file in the way, ...).
 */
function ensurePrivateDir(dir: string, what: string): void {
  try {
    if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EEXIST" && statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
    const cause = e.code === "EROFS" ? "the file system is read-only"
      : e.code === "EACCES" || e.code === "EPERM" ? "permission denied"
      : e.code === "ENOENT" ? "its parent directory does not exist"
      : e.code === "ENOTDIR" ? "a path component is not a directory"
      : e.code === "EEXIST" ? "a file of that name is in the way"
      : e.code === "ENOSPC" ? "no space left on the device"
      : e.message;
    throw new ProfileError(`cannot create the ${what} directory ${dir}: ${cause} (${e.code ?? "error"})`);
  }
}

/** The 0700 directory holding keys and connection files. Created on demand. */
export function securityDir(profile = "default"): string {
  const profilePath = profileDir(profile);
  const dir = join(profilePath, "security");
  ensurePrivateDir(baseDir(), "tsparallel");
  ensurePrivateDir(profilePath, "profile");
  ensurePrivateDir(dir, "security");
  return dir;
}

export function logDir(profile = "default"): string {
  const profilePath = profileDir(profile);
  const dir = join(profilePath, "log");
  ensurePrivateDir(baseDir(), "tsparallel");
  ensurePrivateDir(profilePath, "profile");
  ensurePrivateDir(dir, "log");
  return dir;
}

/**
 * A cluster id names one of several clusters in a profile (ipyparallel's `cluster_id`); "" is the
 * profile's own cluster. It becomes part of file names, so it is one path component like a profile.
 */
export function validateClusterId(clusterId: string): string {
  if (clusterId === "") return clusterId;
  if (typeof clusterId !== "string" || !PROFILE_NAME.test(clusterId) || /^\.+$/.test(clusterId)) {
    throw new ProfileError(`invalid cluster id ${JSON.stringify(clusterId)}: use letters, digits, '.', '_' and '-' only`);
  }
  return clusterId;
}

/** `tspcontroller` or `tspcontroller-<cluster id>`: how the files of one cluster of a profile are named. */
export function clusterFilePrefix(clusterId = ""): string {
  return validateClusterId(clusterId) ? `tspcontroller-${clusterId}` : "tspcontroller";
}

/** The cluster id a connection file's name carries (`tspcontroller-<id>-client.json`); "" for the profile's own or another name. */
export function clusterIdOfConnectionFile(file: string): string {
  const match = /^tspcontroller-(.+)-(?:client|engine)\.json$/.exec(basename(file));
  return match ? match[1]! : "";
}

export function clientConnectionFile(profile = "default", clusterId = ""): string {
  return join(securityDir(profile), `${clusterFilePrefix(clusterId)}-client.json`);
}

export function engineConnectionFile(profile = "default", clusterId = ""): string {
  return join(securityDir(profile), `${clusterFilePrefix(clusterId)}-engine.json`);
}

export function url(info: ConnectionInfo, port: number, bind = false): string {
  return `${info.transport}://${bind ? info.ip : info.location}:${port}`;
}

/** Writes atomically with mode 0600, so a reader never sees half a file or a world-readable key. */
export function writeJsonPrivate(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function requireFields(source: string, value: Record<string, unknown>, fields: string[]): void {
  const missing = fields.filter((f) => value[f] === undefined);
  if (missing.length) throw new ConnectionFileError(`${source} is corrupt: it lacks ${missing.join(", ")}`);
}

export function readConnectionFile<K extends ConnectionInfo["kind"]>(path: string, kind: K): Extract<ConnectionInfo, { kind: K }> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ConnectionFileError(`no connection file at ${path}: is a cluster running? Start one with \`tspcluster start\``);
    }
    throw new ConnectionFileError(`cannot read connection file ${path}: ${(err as Error).message}`);
  }
  return parseConnectionInfo(text, `connection file ${path}`, kind);
}

/** The variable through which launchers hand engines their connection info (no shared file system needed). */
export const CONNECTION_INFO_ENV = "TSPARALLEL_CONNECTION_INFO";

/**
 * Checks connection info given as JSON text (a file's content, standard input or the environment);
 * `source` names where it came from in errors.
 */
export function parseConnectionInfo<K extends ConnectionInfo["kind"]>(text: string, source: string, kind: K): Extract<ConnectionInfo, { kind: K }> {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConnectionFileError(`${source} is corrupt: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object") throw new ConnectionFileError(`${source} is corrupt: not a JSON object`);
  requireFields(source, value, ["kind", "transport", "ip", "location", "key", "ports", "signature_scheme"]);
  if (value.kind !== kind) throw new ConnectionFileError(`${source} is for ${String(value.kind)}s, not ${kind}s`);
  if (value.signature_scheme !== SIGNATURE_SCHEME) {
    throw new ConnectionFileError(`${source} uses signature scheme ${String(value.signature_scheme)}; only ${SIGNATURE_SCHEME} is supported`);
  }
  const ports = value.ports as Record<string, unknown>;
  const needed = kind === "client" ? ["client", "events"] : ["engine", "heartbeat"];
  for (const name of needed) {
    if (!Number.isInteger(ports?.[name])) throw new ConnectionFileError(`${source} is corrupt: port ${name} is missing`);
  }
  if (value.curve !== undefined && typeof value.curve !== "boolean") throw new ConnectionFileError(`${source} is corrupt: curve must be true or false`);
  if (value.curve_keys !== undefined) validateCurveKeys(value.curve_keys, source);
  if (value.curve === true && value.curve_keys === undefined) throw new ConnectionFileError(`${source} says curve: true but holds no curve_keys`);
  return value as unknown as Extract<ConnectionInfo, { kind: K }>;
}
