import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Helpers every launcher shares: where our bins are, spawning processes and tools, running short commands, quoting. */

const require = createRequire(import.meta.url);

/** The path of a bin script of one of our packages, wherever npm installed it. */
export function binPath(pkg: string, bin: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), "bin", bin);
}

/** Children of a non-detached cluster die with the process that started them. */
const attachedChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of attachedChildren) child.kill("SIGTERM");
});

export interface ToolSpawnOptions {
  logFile: string;
  detached: boolean;
  env?: NodeJS.ProcessEnv;
  /** Pipe standard input (to hand over the connection info) and output (to read a first line). */
  pipeStdin?: boolean;
  pipeStdout?: boolean;
}

/** Starts a process (a node of ours, ssh, mpiexec) with its stderr, and stdout unless piped, appended to logFile. */
export function spawnTool(command: string, args: string[], options: ToolSpawnOptions): ChildProcess {
  const log = openSync(options.logFile, "a", 0o600);
  try {
    const child = spawn(command, args, {
      detached: options.detached,
      stdio: [options.pipeStdin ? "pipe" : "ignore", options.pipeStdout ? "pipe" : log, log],
      env: options.env ?? process.env,
    });
    // A missing tool is reported by the caller (exit before ready); without a listener it would throw.
    child.on("error", () => undefined);
    if (options.detached) child.unref();
    else {
      attachedChildren.add(child);
      child.once("exit", () => attachedChildren.delete(child));
    }
    return child;
  } finally {
    closeSync(log);
  }
}

export interface CommandOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a short command to its end (non-zero exits are outcomes, a missing command is code 127). */
export function runCommand(command: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: options.timeoutMs ?? 30_000, env: options.env ?? process.env, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      const failed = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
      const code = typeof failed.code === "number" ? failed.code : failed.code === "ENOENT" ? 127 : 1;
      resolve({ code, stdout: stdout ?? "", stderr: (stderr ?? "") + (failed.killed ? `\n(killed after ${options.timeoutMs ?? 30_000} ms)` : "") || failed.message });
    });
  });
}

/** Runs a shell command line (batch submit/cancel/status commands come from the user as one line). */
export function runShell(line: string, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CommandOutcome> {
  return runCommand("/bin/sh", ["-c", line], options);
}

/** POSIX shell quoting: plain words stay as they are (readable in logs and errors), others go in single quotes. */
export function shQuote(...words: string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(" ");
}

export function logTail(file: string | undefined, lines = 15): string {
  if (!file) return "(no log)";
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** This installation's engine script: right on another host when the checkout sits at the same path there. */
export function engineScript(): string {
  return binPath("@tsparallel/engine", "tspengine.js");
}

/** Same young-generation limit as local engines (see local-launcher.ts). */
export const REMOTE_ENGINE_NODE_FLAGS = ["--max-semi-space-size=1"];

/**
 * A 4 MB young generation for the controller (V8's default is 16 MB): in a million-item map it holds
 * tens of thousands of queued tasks for seconds each, so what a young-generation GC copies grows with
 * the space. 1M-item maps at load 9-12, GC pauses of main (16 MB) -> 4 MB: young-generation p50
 * 13 -> 3.3 ms, p99 128-176 -> 23 ms, their total 12.5 -> 10.5 s; the event loop's delay p99
 * 144-209 -> 77 ms. 1 MB (as engines) made them shorter still (p99 16-39 ms) but four times as many:
 * 23-28 s in all, and the map slower.
 *
 * Those queued tasks are promoted and die in the old generation, which grew to 3-4x its live set
 * between full GCs (63-100 -> 275 MiB, and the malloc heap with it: a buffer is freed when its holder
 * is collected): peak RSS 560-650 MiB. `--heap-growing-percent=100` starts the next full GC at 2x the
 * live set: 390 / 437 MiB in 1M maps at load 6-7.5 (51.7 / 67.4 s). At 1.5x (50) it was 334 / 343 MiB
 * but the map took 85 s: full GCs that often cost the loop thread the time. `--single-threaded-gc`
 * keeps GC work off V8's helper threads, for which GC pauses waited on a busy machine (a
 * young-generation pause of 118 ms in which the loop thread ran 20 ms and waited 22 ms for a core; the
 * rest it waited for helpers that had none); on 2 cores shared with the engines and the client they
 * bought no speed.
 */
export const CONTROLLER_NODE_FLAGS = ["--max-semi-space-size=4", "--heap-growing-percent=100", "--single-threaded-gc"];

/** This installation's controller script (the ssh and Slurm controller launchers' default). */
export function controllerScript(): string {
  return binPath("@tsparallel/controller", "tspcontroller.js");
}

/** The tspcontroller arguments every controller launcher passes: profile, bind address, location, extras, --restore. */
export function controllerArgs(options: { profile: string; clusterId?: string; ip?: string; location?: string; args?: string[]; restore?: boolean }): string[] {
  const args = ["--profile", options.profile];
  if (options.clusterId) args.push("--cluster-id", options.clusterId);
  if (options.ip) args.push("--ip", options.ip);
  if (options.location) args.push("--location", options.location);
  args.push(...(options.args ?? []));
  if (options.restore && !args.includes("--restore")) args.push("--restore");
  return args;
}

/** The line tspcontroller prints once it is ready (null for any other line). */
export interface ControllerReadyLine {
  ready: true;
  pid: number;
  clientFile: string;
  engineFile: string;
}

export function parseReadyLine(line: string): ControllerReadyLine | null {
  let parsed: Partial<ControllerReadyLine>;
  try {
    parsed = JSON.parse(line) as Partial<ControllerReadyLine>;
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== "object" || parsed.ready !== true) return null;
  if (typeof parsed.clientFile !== "string" || typeof parsed.engineFile !== "string" || !Number.isInteger(parsed.pid)) return null;
  return parsed as ControllerReadyLine;
}
