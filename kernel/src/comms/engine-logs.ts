import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { hostname } from "node:os";
import { Cluster, type Client, type EngineInfo, type LaunchedProcess } from "tsparallel";

/** At most this many lines, each cut to LINE_CHARS, read from the last TAIL_BYTES of a log: bounded whatever the log's size. */
export const MAX_LOG_LINES = 200;
const LINE_CHARS = 500;
const TAIL_BYTES = 64 * 1024;

export interface EngineLogReply {
  engineId: number;
  /** The file the lines come from, or "" when there is none to read. */
  source: string;
  lines: string[];
  /** What the lines are (shared by several engines) or why there are none. */
  note: string;
}

/** The last `max` lines of a file, read from its end only. */
export function tailLines(file: string, max = MAX_LOG_LINES): string[] {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n");
    if (size > length) lines.shift(); // cut mid-line
    if (lines.at(-1) === "") lines.pop();
    return lines.slice(-Math.max(1, Math.min(max, MAX_LOG_LINES))).map((l) => (l.length > LINE_CHARS ? `${l.slice(0, LINE_CHARS)}…` : l));
  } finally {
    closeSync(fd);
  }
}

/**
 * Which of the profile's launched processes carries an engine's output, as its launcher recorded it in
 * the profile's cluster state: a local engine's own log file, or the ssh client's (which receives the
 * remote engine's output), or the one log of an mpiexec that runs all ranks.
 */
function logOf(engine: EngineInfo, processes: LaunchedProcess[]): { file: string; note: string } | null {
  const launcher = String(engine.metadata?.launcher ?? "local");
  if (launcher === "local" || launcher === "ssh") {
    const own = processes.find((p) => (p.remote ? p.remote.pid === engine.pid : p.pid === engine.pid && engine.hostname === hostname()));
    if (own?.logFile) return { file: own.logFile, note: own.remote ? `relayed by ssh from ${engine.hostname}` : "" };
    return null;
  }
  const shared = processes.filter((p) => p.launcher === launcher && p.logFile);
  if (shared.length === 1) return { file: shared[0]!.logFile!, note: `shared by all engines of this ${launcher} launch` };
  return null;
}

/**
 * The recent log lines of one engine of the active client's cluster, as far as this machine can read
 * them: clusters started from here (their state is in the profile) have per-engine logs; a cluster
 * reached through a connection file from elsewhere, or engines in batch jobs, do not (said in `note`).
 */
export function engineLog(client: Client, engineId: number, maxLines = MAX_LOG_LINES): EngineLogReply {
  const engine = client.engines.find((e) => e.id === engineId);
  if (!engine) return { engineId, source: "", lines: [], note: `engine ${engineId} is not known to this client` };
  let processes: LaunchedProcess[];
  try {
    processes = Cluster.fromProfile(client.profile, { requireController: false }).engines;
  } catch {
    return { engineId, source: "", lines: [], note: `the cluster of profile ${client.profile} was not started from this machine: its engines' logs are where they run (${engine.hostname})` };
  }
  const log = logOf(engine, processes);
  if (!log) return { engineId, source: "", lines: [], note: `no log of engine ${engineId} (${String(engine.metadata?.launcher ?? "local")} on ${engine.hostname}) is recorded in profile ${client.profile}` };
  try {
    return { engineId, source: log.file, lines: tailLines(log.file, maxLines), note: log.note };
  } catch (err) {
    return { engineId, source: log.file, lines: [], note: `cannot read ${log.file}: ${(err as Error).message}` };
  }
}
