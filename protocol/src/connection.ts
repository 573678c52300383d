import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

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

export function profileDir(profile = "default"): string {
  return join(baseDir(), `profile_${profile}`);
}

/** The 0700 directory holding keys and connection files. Created on demand. */
export function securityDir(profile = "default"): string {
  const dir = join(profileDir(profile), "security");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(baseDir(), 0o700);
  chmodSync(profileDir(profile), 0o700);
  chmodSync(dir, 0o700);
  return dir;
}

export function logDir(profile = "default"): string {
  const dir = join(profileDir(profile), "log");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function clientConnectionFile(profile = "default"): string {
  return join(securityDir(profile), "tspcontroller-client.json");
}

export function engineConnectionFile(profile = "default"): string {
  return join(securityDir(profile), "tspcontroller-engine.json");
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
  return value as unknown as Extract<ConnectionInfo, { kind: K }>;
}
