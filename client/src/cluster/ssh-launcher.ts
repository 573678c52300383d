import { readFileSync } from "node:fs";
import { join } from "node:path";
import { logDir } from "@tsparallel/protocol";
import type { EngineLaunchOptions, EngineLauncher, LaunchedProcess } from "./launcher.js";
import { readLaunchOutput, remotePidOf } from "./launch-output.js";
import { REMOTE_ENGINE_NODE_FLAGS, engineScript, logTail, runCommand, shQuote, spawnTool } from "./launch-tools.js";
import { isAlive } from "./state.js";

/** One entry of `--hosts`: `[user@]host[:port][:count]`. */
export interface SshHost {
  /** What ssh is given: `user@host` or `host` (an ssh config alias works too). */
  target: string;
  host: string;
  port?: number;
  engines: number;
}

export interface SshEngineLauncherOptions {
  /** `"hostA:4,user@hostB:2222:2"` or parsed entries. */
  hosts: string | SshHost[];
  /** Passed to every ssh before ours (e.g. ["-i", "key", "-o", "StrictHostKeyChecking=no"]). */
  sshArgs?: string[];
  /** The ssh client (default "ssh"). */
  ssh?: string;
  /** Working directory of the engines on the remote hosts (default: the login directory). */
  remoteDir?: string;
  /** Node on the remote hosts (default "node" from the login PATH). */
  remoteNode?: string;
  /** tspengine.js on the remote hosts (default: this installation's path, right when it is installed at the same path there). */
  remoteEngine?: string;
  /** How long to wait for each ssh to start its engine (default 30 s). */
  startTimeoutMs?: number;
}

export class SshHostsError extends Error {
  override name = "SshHostsError";
}

const ENTRY = /^(?:([^@\s:,]+)@)?([^@\s:,]+)(?::(\d+))?(?::(\d+))?$/;

/** Parses `--hosts`: comma-separated `[user@]host[:port][:count]`; a single number is the count. */
export function parseSshHosts(spec: string): SshHost[] {
  const entries = spec.split(",").map((s) => s.trim()).filter(Boolean);
  if (!entries.length) throw new SshHostsError(`--hosts is empty: give "host:count,..." (e.g. "hostA:4,user@hostB:2222:2")`);
  return entries.map((entry) => {
    const m = ENTRY.exec(entry);
    if (!m) throw new SshHostsError(`bad --hosts entry "${entry}": expected [user@]host[:port][:count]`);
    const [, user, host, first, second] = m;
    const count = Number(second ?? first ?? "1");
    const port = second !== undefined ? Number(first) : undefined;
    if (!Number.isInteger(count) || count < 1) throw new SshHostsError(`bad --hosts entry "${entry}": the engine count must be a positive integer`);
    if (port !== undefined && (port < 1 || port > 65535)) throw new SshHostsError(`bad --hosts entry "${entry}": port ${port} is out of range`);
    return { target: user ? `${user}@${host}` : host!, host: host!, port, engines: count };
  });
}

const TARGET = /^(?:([^@\s:,]+)@)?([^@\s:,]+)(?::(\d+))?$/;

/** Parses one `[user@]host[:port]` (the controller's host: no engine count). */
export function parseSshTarget(spec: string): Omit<SshHost, "engines"> {
  const m = TARGET.exec(spec.trim());
  if (!m) throw new SshHostsError(`bad ssh host "${spec}": expected [user@]host[:port]`);
  const [, user, host, port] = m;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new SshHostsError(`bad ssh host "${spec}": port ${port} is out of range`);
  return { target: user ? `${user}@${host}` : host!, host: host!, port: port === undefined ? undefined : Number(port) };
}

/** The ssh command line (up to the remote command) that reaches a host. */
export function sshPrefix(host: Omit<SshHost, "engines">, options: { ssh?: string; sshArgs?: string[] }): string[] {
  // The user's options come first: for ssh the first value given for an option wins.
  return [
    options.ssh ?? "ssh",
    ...(options.sshArgs ?? []),
    "-T",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    ...(host.port ? ["-p", String(host.port)] : []),
    host.target,
  ];
}

/**
 * Engines on other hosts, one ssh per engine (as ipyparallel's SSHEngineSetLauncher). The connection
 * info goes over ssh's standard input, so the key never shows in a command line and no file system is
 * shared; the remote shell prints its pid before it becomes the engine, which is what `stop` kills if
 * the engine outlives the controller's shutdown.
 */
export class SshEngineLauncher implements EngineLauncher {
  readonly remote = true;
  readonly #hosts: SshHost[];
  readonly #options: SshEngineLauncherOptions;

  constructor(options: SshEngineLauncherOptions) {
    this.#hosts = typeof options.hosts === "string" ? parseSshHosts(options.hosts) : options.hosts;
    if (!this.#hosts.length) throw new SshHostsError("the ssh launcher needs at least one host");
    this.#options = options;
  }

  defaultCount(): number {
    return this.#hosts.reduce((sum, h) => sum + h.engines, 0);
  }

  /** Engine i goes to the i-th slot of the hosts' counts, wrapping when count exceeds their sum. */
  #placement(count: number): SshHost[] {
    const slots = this.#hosts.flatMap((h) => Array<SshHost>(h.engines).fill(h));
    return Array.from({ length: count }, (_, i) => slots[i % slots.length]!);
  }

  #sshPrefix(host: SshHost): string[] {
    return sshPrefix(host, this.#options);
  }

  #remoteCommand(host: SshHost, options: EngineLaunchOptions): string {
    const tags = ["launcher=ssh", `host=${host.host}`, ...(options.launchId ? [`launch=${options.launchId}`] : [])].flatMap((t) => ["--tag", t]);
    const engine = shQuote(
      "env", "MALLOC_ARENA_MAX=2",
      this.#options.remoteNode ?? "node", ...REMOTE_ENGINE_NODE_FLAGS, this.#options.remoteEngine ?? engineScript(),
      "--connection-info", "-", ...tags, ...(options.args ?? []),
    );
    const cd = this.#options.remoteDir ? `cd ${shQuote(this.#options.remoteDir)} && ` : "";
    // `exec` keeps the shell's pid, so the pid echoed first is the engine's; its output goes to our log.
    return `${cd}echo $$ && exec ${engine} 1>&2`;
  }

  async start(count: number, options: EngineLaunchOptions): Promise<LaunchedProcess[]> {
    const info = readFileSync(options.engineFile, "utf8");
    const placement = this.#placement(count);
    const started: LaunchedProcess[] = [];
    let failure: Error | undefined;
    // sshd drops unauthenticated connections beyond MaxStartups (10 by default): a few at a time.
    const concurrency = 8;
    for (let i = 0; i < placement.length && !failure; i += concurrency) {
      const batch = placement.slice(i, i + concurrency).map((host, j) => this.#startOne(host, info, options, options.firstIndex + i + j));
      for (const outcome of await Promise.allSettled(batch)) {
        if (outcome.status === "fulfilled") started.push(outcome.value);
        else failure ??= outcome.reason as Error;
      }
    }
    if (failure) {
      await stopSshEngines(started);
      throw failure;
    }
    return started;
  }

  async #startOne(host: SshHost, info: string, options: EngineLaunchOptions, index: number): Promise<LaunchedProcess> {
    const logFile = join(logDir(options.profile), `engine-${Date.now()}-${index}-ssh-${host.host.replace(/[^\w.-]/g, "_")}.log`);
    const prefix = this.#sshPrefix(host);
    const child = spawnTool(prefix[0]!, [...prefix.slice(1), this.#remoteCommand(host, options)], {
      logFile, detached: options.detached, pipeStdin: true, pipeStdout: true,
    });
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(info.trim() + "\n");
    const timeoutMs = this.#options.startTimeoutMs ?? 30_000;
    const remotePid = await readLaunchOutput(child, timeoutMs, "no engine pid", remotePidOf, (why) => {
      child.kill("SIGKILL");
      return new Error(`ssh to ${host.target}${host.port ? ` port ${host.port}` : ""} did not start an engine: ${why}\n--- ${logFile} ---\n${logTail(logFile)}`);
    });
    // Nothing else comes on stdout (the engine writes to stderr); a detached ssh must not hold this process.
    child.stdout!.destroy();
    return { pid: child.pid!, host: host.host, logFile, launcher: "ssh", remote: { pid: remotePid, ssh: prefix } };
  }
}

/**
 * Ends ssh-launched engines that are still running on their hosts, one ssh per host: SIGTERM, then
 * SIGKILL for any left after 3 s. Only a pid whose command line still names tspengine is signalled,
 * so a pid reused by something else since is left alone.
 */
export function stopSshEngines(processes: readonly LaunchedProcess[]): Promise<void> {
  return stopSshProcesses(processes, "tspengine");
}

/**
 * The same for processes of `program` (tspengine, tspcontroller) started over ssh; `firstSignal` KILL
 * ends them as a crash would (a controller then leaves its connection files for a `--restore`).
 */
export async function stopSshProcesses(processes: readonly LaunchedProcess[], program: "tspengine" | "tspcontroller", firstSignal: "TERM" | "KILL" = "TERM"): Promise<void> {
  const byHost = new Map<string, { ssh: string[]; pids: number[] }>();
  for (const p of processes) {
    if (!p.remote) continue;
    const key = JSON.stringify(p.remote.ssh);
    const entry = byHost.get(key) ?? { ssh: p.remote.ssh, pids: [] };
    entry.pids.push(p.remote.pid);
    byHost.set(key, entry);
  }
  const script = (pids: number[]) =>
    `pids='${pids.filter((p) => Number.isInteger(p) && p > 0).join(" ")}'; ` +
    `ours() { c=$( (tr '\\0' ' ' < /proc/$1/cmdline) 2>/dev/null || ps -o args= -p $1 2>/dev/null); case "$c" in *${program}*) return 0;; esac; return 1; }; ` +
    `left() { l=''; for p in $pids; do ours $p && l="$l $p"; done; pids=$l; }; ` +
    `left; for p in $pids; do kill -${firstSignal} $p 2>/dev/null; done; ` +
    `i=0; while [ $i -lt 30 ]; do left; [ -z "$pids" ] && exit 0; sleep 0.1; i=$((i+1)); done; ` +
    `for p in $pids; do kill -KILL $p 2>/dev/null; done; exit 0`;
  await Promise.all(
    [...byHost.values()].map(async ({ ssh, pids }) => {
      const outcome = await runCommand(ssh[0]!, [...ssh.slice(1), script(pids)], { timeoutMs: 20_000 });
      if (outcome.code !== 0) process.emitWarning(`could not reach ${ssh[ssh.length - 1]} to stop ${program} ${pids.join(", ")}: ${outcome.stderr.trim()}`);
    }),
  );
  // Each local ssh client ends once its remote process has: wait for that (asking only; nothing is signalled).
  const clients = processes.filter((p) => p.remote).map((p) => p.pid);
  const deadline = Date.now() + SSH_CLIENT_EXIT_MS;
  while (clients.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** How long `stop` waits for the local ssh clients to end after their remote processes did. */
const SSH_CLIENT_EXIT_MS = 5000;
