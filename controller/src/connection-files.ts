import { existsSync, readFileSync, rmSync } from "node:fs";
import {
  SIGNATURE_SCHEME,
  readConnectionFile,
  writeJsonPrivate,
  type ClientConnectionInfo,
  type CurveKeys,
  type EngineConnectionInfo,
  type Logger,
} from "@tsparallel/protocol";
import type { SocketPorts } from "./sockets.js";

export interface ConnectionFilePaths {
  clientFile: string;
  engineFile: string;
}

export interface ConnectionIdentity {
  ip: string;
  location: string;
  key: string;
  profile: string;
  controller: { pid: number; hostname: string; started: string };
  curve: boolean;
  curve_keys: CurveKeys;
}

/** Writes both files (0600 in the 0700 security dir, atomically). */
export function writeConnectionFiles(paths: ConnectionFilePaths, id: ConnectionIdentity, ports: SocketPorts): void {
  const base = { transport: "tcp" as const, signature_scheme: SIGNATURE_SCHEME as typeof SIGNATURE_SCHEME, ...id };
  const client: ClientConnectionInfo = { kind: "client", ...base, ports: { client: ports.client, events: ports.events } };
  const engine: EngineConnectionInfo = { kind: "engine", ...base, ports: { engine: ports.engine, heartbeat: ports.heartbeat } };
  writeJsonPrivate(paths.clientFile, client);
  writeJsonPrivate(paths.engineFile, engine);
}

/**
 * Removes the files, but only those still holding this controller's pid (and key, in case several
 * controllers share a process): a newer controller may own them by now.
 */
export function removeConnectionFiles(paths: ConnectionFilePaths, pid: number, key: string, log: Logger): void {
  for (const path of [paths.clientFile, paths.engineFile]) {
    try {
      const info = JSON.parse(readFileSync(path, "utf8")) as { key?: string; controller?: { pid?: number } };
      if (info.controller?.pid === pid && info.key === key) rmSync(path, { force: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") log.warn(`could not remove connection file ${path}: ${(err as Error).message}`);
    }
  }
}

/**
 * The key and ports of the controller that last wrote the files (for `--restore`), or undefined when
 * either file is missing (a graceful stop removed them): the restarted controller then starts afresh.
 */
export function previousConnection(paths: ConnectionFilePaths): { key: string; ports: SocketPorts; curve: boolean; curveKeys?: CurveKeys } | undefined {
  if (!existsSync(paths.clientFile) || !existsSync(paths.engineFile)) return undefined;
  const client = readConnectionFile(paths.clientFile, "client");
  const engine = readConnectionFile(paths.engineFile, "engine");
  if (client.key !== engine.key) throw new Error(`${paths.clientFile} and ${paths.engineFile} hold different keys: cannot restore from them`);
  // The same CURVE server key too: peers that reconnect hold the old one.
  const curveKeys = client.curve_keys ?? engine.curve_keys;
  return { key: client.key, curve: client.curve === true && engine.curve === true, ...(curveKeys ? { curveKeys } : {}), ports: { client: client.ports.client, events: client.ports.events, engine: engine.ports.engine, heartbeat: engine.ports.heartbeat } };
}
