import type { LaunchedProcess } from "./launcher.js";
import { childOf } from "./local-launcher.js";
import { isOurs, signalIfOurs, type RecordedProcess } from "./process-identity.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until none of the processes runs any more; returns those still running at the deadline. */
export async function waitForExit<T extends RecordedProcess>(processes: T[], timeoutMs: number): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = processes.filter(isOurs);
  while (alive.length && Date.now() < deadline) {
    await sleep(25);
    alive = alive.filter(isOurs);
  }
  return alive;
}

/**
 * Waits until this process has reaped those of the processes that are its children: an exited child
 * stays a zombie until then, and one left behind when this process exits lingers until init reaps it.
 */
export async function reaped(processes: LaunchedProcess[], timeoutMs: number): Promise<void> {
  const waits = processes.flatMap((p) => {
    const child = childOf(p);
    if (!child || child.exitCode !== null || child.signalCode !== null) return [];
    return [new Promise<void>((resolve) => child.once("exit", () => resolve()))];
  });
  if (!waits.length) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(waits), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}

/**
 * The end of a stop, for processes that may still linger after their polite request: 2 s more, then
 * SIGTERM, then SIGKILL (only to processes verified to be ours), then this process reaps `all`.
 */
export async function endLingering(lingering: LaunchedProcess[], all: LaunchedProcess[]): Promise<void> {
  let alive = await waitForExit(lingering, 2000);
  for (const p of alive) signalIfOurs(p, "SIGTERM");
  alive = await waitForExit(alive, 2000);
  for (const p of alive) signalIfOurs(p, "SIGKILL");
  await waitForExit(alive, 2000);
  await reaped(all, 2000);
}
