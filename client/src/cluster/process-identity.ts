import { identify, lookUp, type ProcessIdentity } from "@tsparallel/protocol";
import { hostname } from "node:os";

export { identify, type ProcessIdentity } from "@tsparallel/protocol";

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

/** Whether a live process is the one a verifiable record names. */
function matches(recorded: RecordedProcess, now: ProcessIdentity): boolean {
  return now.startTime === recorded.startTime && sameCmdline(now.cmdline, recorded.cmdline!);
}

/**
 * True only when the recorded process is running here and now with the recorded start time and command
 * line. A record without them (an older cluster.json, a remote engine) is never ours to signal.
 */
export function isOurs(recorded: RecordedProcess): boolean {
  if (!isVerifiable(recorded)) return false;
  const now = identify(recorded.pid);
  return now !== undefined && matches(recorded, now);
}

/**
 * The identity of a child just spawned here. libuv returns from spawn once the child's exec has closed
 * its descriptors, which is before the kernel has set up the new program's arguments: for a moment
 * /proc shows an empty command line (seen under load while 64 engines started), and a record taken then
 * would later look like another process. So wait, briefly and bounded, for the command line to appear.
 */
export function identifySpawned(pid: number): ProcessIdentity | undefined {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0; ; tries++) {
    const found = identify(pid);
    if (found === undefined || found.cmdline.length > 0 || tries >= 1000) return found;
    Atomics.wait(pause, 0, 0, 1);
  }
}

/** True when the record can be checked here (it has our start time and command line for this host). */
export function isVerifiable(recorded: RecordedProcess): boolean {
  return recorded.startTime !== undefined && Array.isArray(recorded.cmdline) && (recorded.host === undefined || recorded.host === hostname());
}

/**
 * True when a verifiable record's process has certainly ended; an unverifiable one is never "known gone",
 * nor is one while /proc cannot be read (out of file descriptors while many engines start, say).
 */
export function isKnownGone(recorded: RecordedProcess): boolean {
  if (!isVerifiable(recorded)) return false;
  const now = lookUp(recorded.pid);
  return now !== "unknown" && (now === "gone" || !matches(recorded, now));
}

/**
 * True when a process started here has certainly ended: a verifiable one that no longer matches, or one
 * that exited before its identity could be read (a tool that refuses its arguments exits at once) and
 * whose pid no longer exists. Signal 0 only asks; it signals nothing. Remote processes: never known.
 */
export function hasExited(recorded: RecordedProcess): boolean {
  if (isVerifiable(recorded)) return isKnownGone(recorded);
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
