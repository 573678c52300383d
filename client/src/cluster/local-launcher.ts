import type { ChildProcess } from "node:child_process";
import { hostname } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { logDir } from "@tsparallel/protocol";
import { CONTROLLER_NODE_FLAGS, binPath, controllerArgs, controllerScript, logTail, parseReadyLine, spawnTool } from "./launch-tools.js";
import { identifySpawned } from "./process-identity.js";
import type { ControllerLaunch, ControllerLaunchOptions, ControllerLauncher, EngineLaunchOptions, EngineLauncher, LaunchedProcess } from "./launcher.js";

export { binPath } from "./launch-tools.js";

/** The child behind each process these launchers started in this process: what a supervisor watches. */
const children = new WeakMap<LaunchedProcess, ChildProcess>();

/** The ChildProcess of a process started in this process by a local launcher (undefined otherwise). */
export function childOf(launched: LaunchedProcess): ChildProcess | undefined {
  return children.get(launched);
}

/**
 * "exit code N, " or "killed by SIGSEGV, " for a process this one started (a crash in native code
 * leaves nothing in its log), waiting a moment for the exit to be reaped; "" when not known here.
 */
export async function howItEnded(launched: LaunchedProcess): Promise<string> {
  const child = children.get(launched);
  if (!child) return "";
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  if (child.signalCode) return `killed by ${child.signalCode}, `;
  return child.exitCode === null ? "" : `exit code ${child.exitCode}, `;
}

/**
 * The record of a just-spawned child (its identity once /proc shows its command line: identifySpawned),
 * known to childOf from then on, so a supervisor can watch it; `extra` adds what the launcher knows.
 */
export function recordOf(child: ChildProcess, logFile: string, extra: Partial<LaunchedProcess> = {}): LaunchedProcess {
  if (child.pid === undefined) throw new Error(`could not start ${child.spawnfile} (see ${logFile})`);
  const identity = identifySpawned(child.pid);
  const launched: LaunchedProcess = { pid: child.pid, host: hostname(), logFile, ...(identity && { startTime: identity.startTime, cmdline: identity.cmdline }), ...extra };
  children.set(launched, child);
  return launched;
}

function launch(args: string[], logFile: string, detached: boolean, stdout: "pipe" | "log"): ChildProcess {
  // Each thread (main, heartbeat, ZeroMQ I/O) would otherwise get its own malloc arena, idle memory included.
  const env = { MALLOC_ARENA_MAX: "2", ...process.env };
  return spawnTool(process.execPath, args, { logFile, detached, env, pipeStdout: stdout === "pipe" });
}

export class LocalControllerLauncher implements ControllerLauncher {
  async start(options: ControllerLaunchOptions): Promise<ControllerLaunch> {
    const logFile = join(logDir(options.profile), `controller-${Date.now()}.log`);
    // With restore: same ports, key and task store, so engines and clients of the crashed controller find this one.
    const args = [...CONTROLLER_NODE_FLAGS, controllerScript(), ...controllerArgs(options)];
    const child = launch(args, logFile, options.detached, "pipe");
    const record = recordOf(child, logFile);
    const ready = await new Promise<{ clientFile: string; engineFile: string }>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      const fail = (why: string) => {
        clearTimeout(timer);
        lines.close();
        child.kill("SIGKILL");
        reject(new Error(`the controller did not start: ${why}\n--- ${logFile} ---\n${logTail(logFile)}`));
      };
      const timer = setTimeout(() => fail(`not ready after ${options.timeoutMs} ms`), options.timeoutMs);
      child.once("exit", (code, signal) => fail(`it exited (${signal ?? `code ${code}`})`));
      child.once("error", (err) => fail(err.message));
      lines.on("line", (line) => {
        const parsed = parseReadyLine(line);
        if (parsed) {
          clearTimeout(timer);
          child.removeAllListeners("exit");
          child.removeAllListeners("error");
          lines.close();
          resolve({ clientFile: parsed.clientFile, engineFile: parsed.engineFile });
        }
      });
    });
    // Nothing else is read from stdout; a detached controller must not keep this process alive.
    child.stdout!.destroy();
    return { process: record, ...ready };
  }
}

/**
 * A 1 MB young generation: an engine's live data is small between tasks, and the default lets every
 * engine keep several more megabytes of new space after a burst of work (measured: 3-7 MiB per engine).
 */
const ENGINE_NODE_FLAGS = ["--max-semi-space-size=1"];

export class LocalEngineLauncher implements EngineLauncher {
  async start(count: number, options: EngineLaunchOptions): Promise<LaunchedProcess[]> {
    const bin = binPath("@tsparallel/engine", "tspengine.js");
    const dir = logDir(options.profile);
    const started: LaunchedProcess[] = [];
    for (let i = 0; i < count; i++) {
      const logFile = join(dir, `engine-${Date.now()}-${options.firstIndex + i}.log`);
      const child = launch([...ENGINE_NODE_FLAGS, bin, "--file", options.engineFile, ...(options.args ?? [])], logFile, options.detached, "log");
      started.push(recordOf(child, logFile));
    }
    return started;
  }
}
