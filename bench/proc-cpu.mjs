/** CPU time from /proc for the bench's scripts: a process's, and this process's threads split in two. */
import { readFileSync, readdirSync } from "node:fs";

/** User + system time of a /proc stat line, in µs (clock ticks of 10 ms). */
const ticks = (stat) => {
  const fields = stat.split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10000;
};

/** A process's CPU so far, all its threads, in µs. */
export const cpuOf = (pid) => ticks(readFileSync(`/proc/${pid}/stat`, "utf8"));

/** This process's CPU so far in µs: [its main thread, its other threads (V8's helpers, ZeroMQ's I/O)]. */
export const ownThreads = () => {
  let main = 0;
  let other = 0;
  for (const t of readdirSync("/proc/self/task")) {
    const c = ticks(readFileSync(`/proc/self/task/${t}/stat`, "utf8"));
    if (Number(t) === process.pid) main += c;
    else other += c;
  }
  return [main, other];
};
