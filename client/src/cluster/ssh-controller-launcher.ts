import { spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { clientConnectionFile, engineConnectionFile, logDir, parseConnectionInfo, writeJsonPrivate, type ConnectionInfo } from "@tsparallel/protocol";
import type { ControllerLaunch, ControllerLaunchOptions, ControllerLauncher, LaunchedProcess } from "./launcher.js";
import { CONTROLLER_NODE_FLAGS, controllerArgs, controllerScript, logTail, parseReadyLine, runCommand, shQuote, spawnTool } from "./launch-tools.js";
import { readLaunchOutput, remotePidOf } from "./launch-output.js";
import { recordOf } from "./local-launcher.js";
import { parseSshTarget, sshPrefix, stopSshProcesses, type SshHost } from "./ssh-launcher.js";

export interface SshControllerLauncherOptions {
  /** `[user@]host[:port]` (an ssh config alias works too). */
  host: string;
  /** Passed to every ssh before ours (e.g. ["-i", "key", "-o", "StrictHostKeyChecking=no"]). */
  sshArgs?: string[];
  /** The ssh client (default "ssh"). */
  ssh?: string;
  /** Node on the host (default "node" from the login PATH). */
  remoteNode?: string;
  /** tspcontroller.js on the host (default: this installation's path, right when it is installed at the same path there). */
  remoteController?: string;
  /** Working directory of the controller on the host (default: the login directory). */
  remoteDir?: string;
  /** TSPARALLEL_DIR of the controller on its host (default: its login's, ~/.tsparallel); its connection files stay there. */
  remoteTsparallelDir?: string;
}

/**
 * Controllers of clusters that do not outlive this process (not daemonized), by their ssh client: the
 * remote controller would outlive its ssh client (no terminal, no SIGHUP), so it is ended over ssh when
 * this process exits. One whose ssh client ended first (it exited, or stop ended it) is dropped.
 */
const attached = new Map<ChildProcess, { ssh: string[]; pid: number }>();
process.once("exit", () => {
  for (const { ssh, pid } of attached.values()) {
    // Synchronous (the loop has ended), only a pid that still runs tspcontroller, and waiting (3 s at most)
    // until it has gone, so that it is gone once this process is.
    const script =
      `c=$( (tr '\\0' ' ' < /proc/${pid}/cmdline) 2>/dev/null); case "$c" in *tspcontroller*) kill -TERM ${pid};; *) exit 0;; esac; ` +
      `i=0; while [ $i -lt 30 ] && kill -0 ${pid} 2>/dev/null; do sleep 0.1; i=$((i+1)); done`;
    spawnSync(ssh[0]!, [...ssh.slice(1), script], { stdio: "ignore", timeout: 10_000 });
  }
});

/** Separates the two connection files in what the fetching ssh prints: JSON text never holds a raw 0x1e. */
const SEPARATOR = "\x1e";

/**
 * The controller on another host, over ssh. It binds all interfaces there (unless told an address) and
 * names the ssh host as its location, so the client and engines reach it by the name ssh did. Its
 * connection files are fetched back whole over a second ssh (no shared file system) and written to this
 * profile's security directory, where the client and the engine launchers read them as for a local
 * controller. The cluster's record of it is the local ssh client (which ends when the remote controller
 * does: the remote shell `exec`s it), plus its pid on the host, which `stop` ends over ssh if it outlives
 * its shutdown or its ssh connection. A supervisor restarts it (with --restore) when the ssh client ends
 * non-zero, as for a local controller.
 */
export class SshControllerLauncher implements ControllerLauncher {
  readonly remote = true;
  readonly #host: Omit<SshHost, "engines">;
  readonly #options: SshControllerLauncherOptions;
  /** The controller this launcher started last: a restart ends it first if it still runs (only its ssh link dropped). */
  #last: LaunchedProcess | undefined;

  constructor(options: SshControllerLauncherOptions) {
    this.#host = parseSshTarget(options.host);
    this.#options = options;
  }

  #remoteCommand(options: ControllerLaunchOptions): string {
    const env = ["MALLOC_ARENA_MAX=2", ...(this.#options.remoteTsparallelDir ? [`TSPARALLEL_DIR=${this.#options.remoteTsparallelDir}`] : [])];
    const controller = shQuote(
      "env", ...env, this.#options.remoteNode ?? "node", ...CONTROLLER_NODE_FLAGS, this.#options.remoteController ?? controllerScript(),
      ...controllerArgs({ ...options, ip: options.ip ?? "0.0.0.0", location: options.location ?? this.#host.host }),
    );
    const cd = this.#options.remoteDir ? `cd ${shQuote(this.#options.remoteDir)} && ` : "";
    // `exec` keeps the shell's pid, so the pid echoed first is the controller's; its ready line follows on stdout.
    return `${cd}echo $$ && exec ${controller}`;
  }

  async start(options: ControllerLaunchOptions): Promise<ControllerLaunch> {
    const where = `${this.#host.target}${this.#host.port ? ` port ${this.#host.port}` : ""}`;
    const logFile = join(logDir(options.profile), `controller-${Date.now()}-ssh-${this.#host.host.replace(/[^\w.-]/g, "_")}.log`);
    const prefix = sshPrefix(this.#host, this.#options);
    // Only its ssh link may have dropped: the restored controller could not bind the ports the old one
    // still holds. Killed as in a crash, which leaves its connection files and store for --restore (a
    // graceful stop would shut the engines down and remove the files).
    if (options.restore && this.#last) await stopSshProcesses([this.#last], "tspcontroller", "KILL");
    const child = spawnTool(prefix[0]!, [...prefix.slice(1), this.#remoteCommand(options)], { logFile, detached: options.detached, pipeStdout: true });
    const record = recordOf(child, logFile, { launcher: "ssh" });
    let remotePid: number | undefined;
    const stopRemote = async () => {
      child.kill("SIGKILL");
      if (remotePid !== undefined) await stopSshProcesses([{ ...record, remote: { pid: remotePid, ssh: prefix } }], "tspcontroller");
    };
    let ready: { clientFile: string; engineFile: string };
    try {
      ready = await readLaunchOutput(
        child,
        options.timeoutMs,
        "not ready",
        (line) => {
          if (remotePid !== undefined) return parseReadyLine(line) ?? undefined;
          remotePid = remotePidOf(line);
          return undefined;
        },
        (why) => new Error(`the controller did not start on ${where}: ${why}\n--- ${logFile} ---\n${logTail(logFile)}`),
      );
      const files = await this.#fetch(prefix, ready, remotePid!, where);
      // Whole, as the controller wrote them (fields this code does not know of included).
      const clientFile = clientConnectionFile(options.profile, options.clusterId);
      const engineFile = engineConnectionFile(options.profile, options.clusterId);
      writeJsonPrivate(clientFile, files.client);
      writeJsonPrivate(engineFile, files.engine);
      // Nothing else is read from stdout; a detached ssh must not keep this process alive.
      child.stdout!.destroy();
      // A record of its own (what a supervisor watches through childOf), now that the remote pid is known.
      const launched = recordOf(child, logFile, { launcher: "ssh", remote: { pid: remotePid!, ssh: prefix, host: this.#host.host } });
      this.#last = launched;
      if (!options.detached) {
        attached.set(child, { ssh: prefix, pid: remotePid! });
        child.once("exit", () => attached.delete(child));
      }
      return { process: launched, clientFile, engineFile };
    } catch (err) {
      await stopRemote();
      throw err;
    }
  }

  /** Both connection files, read on the host in one ssh and checked to be this controller's. */
  async #fetch(prefix: string[], ready: { clientFile: string; engineFile: string }, pid: number, where: string): Promise<{ client: ConnectionInfo; engine: ConnectionInfo }> {
    const script = `cat -- ${shQuote(ready.clientFile)} && printf '\\036' && cat -- ${shQuote(ready.engineFile)}`;
    const outcome = await runCommand(prefix[0]!, [...prefix.slice(1), script], { timeoutMs: 30_000 });
    if (outcome.code !== 0) throw new Error(`could not fetch the controller's connection files from ${where}: ${outcome.stderr.trim() || `exit ${outcome.code}`}`);
    const parts = outcome.stdout.split(SEPARATOR);
    if (parts.length !== 2) throw new Error(`could not fetch the controller's connection files from ${where}: unexpected output`);
    const client = parseConnectionInfo(parts[0]!, `the client connection file ${ready.clientFile} on ${where}`, "client");
    const engine = parseConnectionInfo(parts[1]!, `the engine connection file ${ready.engineFile} on ${where}`, "engine");
    for (const info of [client, engine]) {
      if (info.controller?.pid !== pid) throw new Error(`the connection files on ${where} belong to controller pid ${info.controller?.pid}, not to the one just started (pid ${pid})`);
    }
    return { client, engine };
  }
}
