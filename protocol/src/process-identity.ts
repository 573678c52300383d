import { readFileSync, readlinkSync } from "node:fs";

/**
 * What tells one process from another that later gets the same pid: its start time (clock ticks after
 * boot, /proc/<pid>/stat field 22) and its command line. A pid alone is not an identity: after a reboot
 * or enough forks a stale record names somebody else's process.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: number;
  cmdline: string[];
}

/** The identity of a live local process, or undefined when it is gone (or /proc cannot tell). */
export function identify(pid: number): ProcessIdentity | undefined {
  const found = lookUp(pid);
  return typeof found === "object" ? found : undefined;
}

/**
 * A local process as /proc tells it: its identity, "gone" (no such pid, or a zombie), or "unknown" when
 * /proc could not be read (out of file descriptors, say), which must never be taken for "gone".
 */
export function lookUp(pid: number): ProcessIdentity | "gone" | "unknown" {
  if (!Number.isInteger(pid) || pid < 1) return "gone";
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may hold spaces or ")": fields 3.. start after the last ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTime = Number(rest[22 - 3]);
    const state = rest[0];
    if (state === "Z" || state === "X") return "gone";
    if (!Number.isFinite(startTime)) return "unknown";
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    const cmdline = raw.split("\0");
    if (cmdline.at(-1) === "") cmdline.pop();
    return { pid, startTime, cmdline };
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ESRCH" ? "gone" : "unknown";
  }
}

/**
 * Where pids mean the same thing: this boot of this kernel and this pid namespace. Two processes with
 * the same key can look each other up in /proc; a hostname cannot promise that (containers and
 * machines share names). Undefined where /proc cannot tell.
 */
export function pidSpace(): string | undefined {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot}/${readlinkSync("/proc/self/ns/pid")}`;
  } catch {
    return undefined;
  }
}
