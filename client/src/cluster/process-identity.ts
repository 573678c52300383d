import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * What tells one process from another that later gets the same pid: its start time (clock ticks after
 * boot, /proc/<pid>/stat field 22) and its command line. A pid alone is not an identity: after a reboot
 * or enough forks a stale cluster.json names somebody else's process.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: number;
  cmdline: string[];
}

/** The identity of a live local process, or undefined when it is gone (or /proc cannot tell). */
export function identify(pid: number): ProcessIdentity | undefined {
  if (!Number.isInteger(pid) || pid < 1) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may hold spaces or ")": fields 3.. start after the last ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTime = Number(rest[22 - 3]);
    const state = rest[0];
    if (!Number.isFinite(startTime) || state === "Z" || state === "X") return undefined;
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    const cmdline = raw.split("\0");
    if (cmdline.at(-1) === "") cmdline.pop();
    return { pid, startTime, cmdline };
  } catch {
    return undefined;
  }
}

/** A recorded process: a pid, and (when it was started by us on this host) what identifies it. */
export interface RecordedProcess {
  pid: number;
  host?: string;
  startTime?: number;
  cmdline?: string[];
}

function sameCmdline(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}

/**
 * True only when the recorded process is running here and now with the recorded start time and command
 * line. A record without them (an older cluster.json, a remote engine) is never ours to signal.
 */
export function isOurs(recorded: RecordedProcess): boolean {
  if (!isVerifiable(recorded)) return false;
  const now = identify(recorded.pid);
  return now !== undefined && now.startTime === recorded.startTime && sameCmdline(now.cmdline, recorded.cmdline!);
}

/** True when the record can be checked here (it has our start time and command line for this host). */
export function isVerifiable(recorded: RecordedProcess): boolean {
  return recorded.startTime !== undefined && Array.isArray(recorded.cmdline) && (recorded.host === undefined || recorded.host === hostname());
}

/** True when a verifiable record's process has certainly ended; an unverifiable one is never "known gone". */
export function isKnownGone(recorded: RecordedProcess): boolean {
  return isVerifiable(recorded) && !isOurs(recorded);
}

/**
 * True when a process started here has certainly ended: a verifiable one that no longer matches, or one
 * that exited before its identity could be read (a tool that refuses its arguments exits at once) and
 * whose pid no longer exists. Signal 0 only asks; it signals nothing. Remote processes: never known.
 */
export function hasExited(recorded: RecordedProcess): boolean {
  if (isVerifiable(recorded)) return !isOurs(recorded);
  if (recorded.host !== undefined && recorded.host !== hostname()) return false;
  try {
    process.kill(recorded.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Sends a signal only to a verified process of ours; false when it was not sent. */
export function signalIfOurs(recorded: RecordedProcess, signal: NodeJS.Signals): boolean {
  if (!isOurs(recorded)) return false;
  try {
    process.kill(recorded.pid, signal);
    return true;
  } catch {
    return false;
  }
}
