import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { privateRoot } from "./cluster-fixture.js";
import { bins } from "./paths.js";

/**
 * Starts tspcontroller on `profile` (added to `started`, for the caller to kill) and resolves once it
 * printed its ready line. Info level whatever CI sets: tests read the controller's account of itself.
 */
export async function startController(profile: string, args: string[], started: ChildProcess[]): Promise<{ child: ChildProcess; stderr: () => string }> {
  privateRoot();
  const child = spawn(process.execPath, [bins.controller, "--profile", profile, "--log-level", "info", ...args], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
  started.push(child);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 20 s; stderr:\n${stderr}`)), 20_000);
    createInterface({ input: child.stdout! }).once("line", () => {
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", (code) => reject(new Error(`tspcontroller exited (${code}) before it was ready; stderr:\n${stderr}`)));
  });
  return { child, stderr: () => stderr };
}

/** SIGKILLs a child and resolves once it has exited. */
export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await gone;
}
