import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import type { EngineInfo } from "@tsparallel/protocol";
import { Client, type ConnectOptions } from "../client.js";
import { cancelJobs, jobPresent } from "./batch-launcher.js";
import { createEngineLauncher, type EngineLauncherSpec } from "./engine-launchers.js";
import type { ControllerLauncher, EngineLauncher, LaunchedJob, LaunchedProcess } from "./launcher.js";
import { LocalControllerLauncher, LocalEngineLauncher } from "./local-launcher.js";
import { stopSshEngines } from "./ssh-launcher.js";
import { isAlive, readState, removeState, writeState, type ClusterState } from "./state.js";

export interface ClusterOptions {
  /** Engines to start (default: the hosts' counts for ssh, else the number of CPUs). */
  n?: number;
  /** Which launcher starts the engines and its options (default local); `engineLauncher` overrides it. */
  engines?: EngineLauncherSpec;
  profile?: string;
  /** Address to bind (default 127.0.0.1; 0.0.0.0 with ssh/slurm/batch engines); `location` is what remote engines connect to. */
  ip?: string;
  location?: string;
  /** Processes outlive this one (what `tspcluster start --daemonize` does). */
  daemonize?: boolean;
  controllerArgs?: string[];
  engineArgs?: string[];
  /** How long to wait for the controller and engines to be ready, ms (default 30,000). */
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

/**
 * Ends what a cluster's shutdown does not reach on this host: engines on ssh hosts (by their remote pid)
 * and batch jobs (cancelled, then gone from the queue). Also for a cluster whose controller is gone.
 */
export async function stopRemoteEngines(state: ClusterState): Promise<void> {
  await stopSshEngines(state.engines);
  if (state.jobs?.length) await cancelJobs(state.jobs);
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
    const timeout = options.timeout ?? 30_000;
    const detached = options.daemonize ?? false;
    // Made first: a bad launcher option fails before anything starts.
    const engineLauncher: EngineLauncher = options.engineLauncher ?? (options.engines ? createEngineLauncher(options.engines) : new LocalEngineLauncher());
    const ip = options.ip ?? (engineLauncher.remote ? "0.0.0.0" : undefined);
    const controller = await (options.controllerLauncher ?? new LocalControllerLauncher()).start({
      profile, ip, location: options.location, args: options.controllerArgs, detached, timeoutMs: timeout,
    });
    const state: ClusterState = {
      profile, controller: controller.process, engines: [], clientFile: controller.clientFile, engineFile: controller.engineFile,
      daemon: detached, started: new Date().toISOString(),
    };
    writeState(state);
    const cluster = new Cluster(state, engineLauncher, options.engineArgs ?? []);
    try {
      const n = options.n ?? engineLauncher.defaultCount?.() ?? availableParallelism();
      if (n > 0) await cluster.addEngines(n, { timeout });
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Attaches to the cluster running in a profile (one started with --daemonize, say); `engines` launches what addEngines adds. */
  static fromProfile(profile = "default", engines?: EngineLauncherSpec | EngineLauncher): Cluster {
    const state = readState(profile);
    if (!state || !isAlive(state.controller.pid)) throw new ClusterError(`no cluster is running in profile "${profile}"`);
    const launcher = !engines ? new LocalEngineLauncher() : "start" in engines ? engines : createEngineLauncher(engines);
    return new Cluster(state, launcher, []);
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

  /** Batch jobs running engines of this cluster. */
  get jobs(): LaunchedJob[] {
    return [...(this.#state.jobs ?? [])];
  }

  /** Engines started by its launchers (a process such as mpiexec or a job may run several). */
  get engineCount(): number {
    return this.#state.engines.reduce((sum, p) => sum + (p.engines ?? 1), 0) + (this.#state.jobs ?? []).reduce((sum, j) => sum + j.engines, 0);
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
    const launchId = randomUUID();
    const result = await this.#engineLauncher.start(n, {
      profile: this.profile, engineFile: this.#state.engineFile, args: this.#engineArgs, detached: this.#state.daemon,
      firstIndex: this.engineCount, launchId,
    });
    const { processes: launched, jobs } = Array.isArray(result) ? { processes: result, jobs: [] } : result;
    this.#state.engines.push(...launched);
    if (jobs.length) (this.#state.jobs ??= []).push(...jobs);
    writeState(this.#state);
    // Local engines are known by pid; others (remote pids, MPI ranks, batch tasks) by the launch id they were tagged with.
    const pids = new Set(launched.filter((p) => !p.launcher).map((p) => p.pid));
    const ours = (e: EngineInfo) => pids.has(e.pid) || e.metadata?.launch === launchId;
    const deadline = Date.now() + timeout;
    let nextJobCheck = 0;
    for (;;) {
      const fresh = client.engines.filter((e) => !before.has(e.id) && ours(e) && e.state !== "dead" && e.state !== "stopped");
      if (fresh.length >= n) return fresh.map((e) => e.id).sort((a, b) => a - b);
      const dead = launched.filter((p) => !isAlive(p.pid));
      if (dead.length) throw new ClusterError(`engine process${dead.length > 1 ? "es" : ""} ${dead.map((p) => `${p.pid} (log: ${p.logFile})`).join(", ")} exited before registering`);
      if (jobs.length && Date.now() >= nextJobCheck) {
        nextJobCheck = Date.now() + 1000;
        for (const job of jobs) {
          if (!(await jobPresent(job))) throw new ClusterError(`${job.launcher} job ${job.jobId} ended before its engines registered (log: ${job.logFile})`);
        }
      }
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
    await stopRemoteEngines(this.#state);
    alive = await waitForExit(alive, 2000);
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
