import { availableParallelism } from "node:os";
import { Client, type ConnectOptions } from "../client.js";
import type { ControllerLauncher, EngineLauncher, LaunchedProcess } from "./launcher.js";
import { LocalControllerLauncher, LocalEngineLauncher } from "./local-launcher.js";
import { isAlive, readState, removeState, writeState, type ClusterState } from "./state.js";

export interface ClusterOptions {
  /** Engines to start (default: the number of CPUs). */
  n?: number;
  profile?: string;
  /** Address to bind (default 127.0.0.1); `location` is what remote engines connect to. */
  ip?: string;
  location?: string;
  /** Processes outlive this one (what `tspcluster start --daemonize` does). */
  daemonize?: boolean;
  controllerArgs?: string[];
  engineArgs?: string[];
  /** How long to wait for the controller and engines to be ready, ms (default 30,000, or 3 s per engine when more). */
  timeout?: number;
  controllerLauncher?: ControllerLauncher;
  engineLauncher?: EngineLauncher;
}

export class ClusterError extends Error {
  override name = "ClusterError";
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForExit(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length && Date.now() < deadline) {
    await sleep(25);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/** A controller and its engines, started by launchers: ipcluster's job, from code or the CLI. */
export class Cluster implements AsyncDisposable {
  #state: ClusterState;
  #client: Client | undefined;
  readonly #engineLauncher: EngineLauncher;
  readonly #engineArgs: string[];

  private constructor(state: ClusterState, engineLauncher: EngineLauncher, engineArgs: string[]) {
    this.#state = state;
    this.#engineLauncher = engineLauncher;
    this.#engineArgs = engineArgs;
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const profile = options.profile ?? "default";
    const existing = readState(profile);
    if (existing && isAlive(existing.controller.pid)) {
      throw new ClusterError(`a cluster is already running in profile "${profile}" (controller pid ${existing.controller.pid}): stop it with \`tspcluster stop --profile ${profile}\``);
    }
    // 64 engines starting at once on a busy 2-core machine took 34-72 s to register: the wait grows with n.
    const timeout = options.timeout ?? Math.max(30_000, 3_000 * (options.n ?? availableParallelism()));
    const detached = options.daemonize ?? false;
    const controller = await (options.controllerLauncher ?? new LocalControllerLauncher()).start({
      profile, ip: options.ip, location: options.location, args: options.controllerArgs, detached, timeoutMs: timeout,
    });
    const state: ClusterState = {
      profile, controller: controller.process, engines: [], clientFile: controller.clientFile, engineFile: controller.engineFile,
      daemon: detached, started: new Date().toISOString(),
    };
    writeState(state);
    const cluster = new Cluster(state, options.engineLauncher ?? new LocalEngineLauncher(), options.engineArgs ?? []);
    try {
      const n = options.n ?? availableParallelism();
      if (n > 0) await cluster.addEngines(n, { timeout });
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Attaches to the cluster running in a profile (one started with --daemonize, say). */
  static fromProfile(profile = "default"): Cluster {
    const state = readState(profile);
    if (!state || !isAlive(state.controller.pid)) throw new ClusterError(`no cluster is running in profile "${profile}"`);
    return new Cluster(state, new LocalEngineLauncher(), []);
  }

  get profile(): string {
    return this.#state.profile;
  }

  get controller(): LaunchedProcess {
    return this.#state.controller;
  }

  get engines(): LaunchedProcess[] {
    return [...this.#state.engines];
  }

  get clientFile(): string {
    return this.#state.clientFile;
  }

  /** A new client of this cluster (made the active one). */
  connect(options: Omit<ConnectOptions, "connectionFile" | "profile"> = {}): Promise<Client> {
    return Client.connect({ ...options, connectionFile: this.#state.clientFile });
  }

  /** Starts n more engines and resolves with their ids once they are registered. */
  async addEngines(n: number, { timeout = 30_000 }: { timeout?: number } = {}): Promise<number[]> {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`engines to add must be a positive integer, got ${n}`);
    const client = await this.#ownClient();
    const before = new Set(client.ids);
    const launched = await this.#engineLauncher.start(n, {
      profile: this.profile, engineFile: this.#state.engineFile, args: this.#engineArgs, detached: this.#state.daemon,
      firstIndex: this.#state.engines.length,
    });
    this.#state.engines.push(...launched);
    writeState(this.#state);
    const pids = new Set(launched.map((p) => p.pid));
    const deadline = Date.now() + timeout;
    for (;;) {
      const fresh = client.engines.filter((e) => !before.has(e.id) && pids.has(e.pid) && e.state !== "dead" && e.state !== "stopped");
      if (fresh.length >= n) return fresh.map((e) => e.id).sort((a, b) => a - b);
      const dead = launched.filter((p) => !isAlive(p.pid));
      if (dead.length) throw new ClusterError(`engine process${dead.length > 1 ? "es" : ""} ${dead.map((p) => `${p.pid} (log: ${p.logFile})`).join(", ")} exited before registering`);
      if (Date.now() > deadline) throw new ClusterError(`${fresh.length} of ${n} new engines registered after ${timeout} ms`);
      await client.waitForEngines(before.size + fresh.length + 1, { timeout: Math.min(250, Math.max(1, deadline - Date.now())) }).catch(() => undefined);
    }
  }

  /** Stops the engines and the controller; escalates to signals for any process that lingers. */
  async stop({ timeout = 5000 }: { timeout?: number } = {}): Promise<void> {
    const pids = [this.#state.controller.pid, ...this.#state.engines.map((e) => e.pid)];
    try {
      const client = this.#client ?? (await Client.connect({ connectionFile: this.#state.clientFile, timeout: Math.min(timeout, 3000), activate: false }));
      this.#client = client;
      await client.shutdown({ hub: true });
    } catch {
      // An unresponsive controller is handled by the signals below.
    }
    this.#client?.close();
    this.#client = undefined;
    let alive = await waitForExit(pids, timeout);
    for (const pid of alive) process.kill(pid, "SIGTERM");
    alive = await waitForExit(alive, 2000);
    for (const pid of alive) process.kill(pid, "SIGKILL");
    await waitForExit(alive, 2000);
    removeState(this.profile);
  }

  /** Lets go of the cluster without stopping it (its processes keep running if daemonized). */
  detach(): void {
    this.#client?.close();
    this.#client = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #ownClient(): Promise<Client> {
    this.#client ??= await Client.connect({ connectionFile: this.#state.clientFile, activate: false });
    return this.#client;
  }
}
