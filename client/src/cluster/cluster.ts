import { randomUUID } from "node:crypto";
import { availableParallelism, hostname } from "node:os";
import { inspect, type InspectOptions } from "node:util";
import { validateClusterId, type EngineInfo } from "@tsparallel/protocol";
import { Client, type ConnectOptions } from "../client.js";
import { cancelJobs, jobPresent } from "./batch-launcher.js";
import { controllerMayRun, controllerRunning, createControllerLauncher, describeController, stopRemoteController, type ControllerLauncherSpec } from "./controller-launchers.js";
import { createEngineLauncher, type EngineLauncherSpec } from "./engine-launchers.js";
import type { ControllerLaunchOptions, ControllerLauncher, EngineLauncher, LaunchedJob, LaunchedProcess } from "./launcher.js";
import { logTail } from "./launch-tools.js";
import { LocalControllerLauncher, LocalEngineLauncher, howItEnded } from "./local-launcher.js";
import { reaped, waitForExit } from "./process-exit.js";
import { hasExited, identify, isKnownGone, isOurs, signalIfOurs } from "./process-identity.js";
import { restartPolicy, type RestartPolicy } from "./restart-policy.js";
import { listProfiles, readState, removeState, writeState, type ClusterState, type SupervisorRecord } from "./state.js";
import { Supervisor, type SupervisedCluster } from "./supervisor.js";
import { SupervisorLog } from "./supervisor-log.js";
import { stopSshEngines } from "./ssh-launcher.js";
import { askSupervisor, startSupervisorProcess, supervisorLogFile } from "./supervisor-process.js";

export interface ClusterOptions {
  /** Engines to start (default: the hosts' counts for ssh, else the number of CPUs). */
  n?: number;
  /** Which launcher starts the engines and its options (default local); `engineLauncher` overrides it. */
  engines?: EngineLauncherSpec;
  /**
   * Where the controller runs (default local): `{ launcher: "ssh", host: "hostA" }` on another host,
   * `{ launcher: "slurm", partition }` in its own Slurm job; `controllerLauncher` overrides it.
   */
  controller?: ControllerLauncherSpec;
  profile?: string;
  /**
   * One of several clusters in the profile (ipyparallel's `cluster_id`): its files are
   * `tspcontroller-<id>-client.json` (`Client.connect({ profile, clusterId })`) and `cluster-<id>.json`
   * (`Cluster.fromProfile(profile, { clusterId })`). Default "": the profile's own cluster.
   */
  clusterId?: string;
  /**
   * Address to bind (default 127.0.0.1; 0.0.0.0 with ssh/slurm/batch engines or a controller elsewhere); `location` is what
   * remote engines and clients connect to (an ssh controller's default: its ssh host name).
   */
  ip?: string;
  location?: string;
  /**
   * ZeroMQ CURVE on every socket (tspcontroller --curve / --no-curve): traffic encrypted, only holders
   * of the connection file connect. Default: on when the controller binds a non-loopback address.
   * Clients and engines read it from the connection info; nothing else needs it.
   */
  curve?: boolean;
  /** Processes outlive this one (what `tspcluster start --daemonize` does). */
  daemonize?: boolean;
  /**
   * Restart a crashed controller (with --restore) and crashed local engines, rate limited by a
   * RestartPolicy (true: the defaults; engines on other hosts, in MPI or in batch jobs are not restarted), each restart logged in the profile's log/supervisor.log.
   * Off by default from code, where a crash is usually something to see; `tspcluster start` turns it
   * on. With `daemonize` a supervisor process does it and outlives this one; without, this process
   * does it for as long as it runs (its cluster ends with it anyway).
   */
  supervise?: boolean | Partial<RestartPolicy>;
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

/**
 * Ends what a cluster's shutdown does not reach on this host: engines on ssh hosts (by their remote pid),
 * batch jobs (cancelled, then gone from the queue), and a controller on an ssh host or in a job. Also for
 * a cluster whose controller is gone.
 */
export async function stopRemoteMembers(state: ClusterState): Promise<void> {
  await stopSshEngines(state.engines);
  if (state.jobs?.length) await cancelJobs(state.jobs);
  await stopRemoteController(state.controller);
}

/** Only local engine processes are restarted: an ssh client, mpiexec or a job is not one engine here. */
function restartable(engine: LaunchedProcess): boolean {
  return engine.launcher === undefined || engine.launcher === "local";
}

/** A controller and its engines, started by launchers: ipcluster's job, from code or the CLI. */
export class Cluster implements AsyncDisposable {
  #state: ClusterState;
  #client: Client | undefined;
  readonly #controllerLauncher: ControllerLauncher;
  readonly #controllerOptions: ControllerLaunchOptions | undefined;
  /** Clients handed out by connect(): a stopped cluster closes them, so a script can exit. */
  readonly #connected = new Set<Client>();
  readonly #engineLauncher: EngineLauncher;
  readonly #engineArgs: string[];
  #supervisor: Supervisor | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(state: ClusterState, launchers: { controller: ControllerLauncher; controllerOptions?: ControllerLaunchOptions; engine: EngineLauncher }, engineArgs: string[]) {
    this.#state = state;
    this.#controllerLauncher = launchers.controller;
    this.#controllerOptions = launchers.controllerOptions;
    this.#engineLauncher = launchers.engine;
    this.#engineArgs = engineArgs;
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const profile = options.profile ?? "default";
    if (options.curve !== undefined) {
      // As a controller argument, so a supervisor process and a restarted controller keep it.
      const { curve, ...rest } = options;
      options = { ...rest, controllerArgs: [curve ? "--curve" : "--no-curve", ...(options.controllerArgs ?? [])] };
    }
    const clusterId = validateClusterId(options.clusterId ?? "");
    const existing = readState(profile, clusterId);
    // A supervisor process counts too: its controller may be down only while it is being restarted.
    if (existing && ((await controllerRunning(existing.controller)) || (existing.supervisor?.kind === "process" && isOurs(existing.supervisor)))) {
      const running = `(${describeController(existing.controller)})`;
      if (clusterId) throw new ClusterError(`cluster "${clusterId}" of profile "${profile}" is already running ${running}: stop it with Cluster.fromProfile(${JSON.stringify(profile)}, { clusterId: ${JSON.stringify(clusterId)} }).stop()`);
      throw new ClusterError(`a cluster is already running in profile "${profile}" ${running}: stop it with \`tspcluster stop --profile ${profile}\``);
    }
    const policy = options.supervise ? restartPolicy(typeof options.supervise === "object" ? options.supervise : {}) : undefined;
    if (policy && options.daemonize) {
      if (options.controllerLauncher || options.engineLauncher) {
        throw new ClusterError("a supervisor process starts local processes only: give custom launchers without `daemonize`, or without `supervise`");
      }
      await startSupervisorProcess({ ...options, profile, supervise: policy });
      return Cluster.fromProfile(profile, { clusterId });
    }
    const cluster = await Cluster.#launch({ ...options, profile });
    if (policy) cluster.#superviseHere(policy, "in-process");
    return cluster;
  }

  /**
   * What a supervisor process runs: the cluster, started and supervised by the calling process.
   * @internal
   */
  static async _startSupervisedHere(options: ClusterOptions & { profile: string }, policy: RestartPolicy, socket: string | undefined): Promise<Cluster> {
    const cluster = await Cluster.#launch({ ...options, daemonize: true });
    // Its client is not needed until the next `engines add`, and would only follow the controller's restarts.
    cluster.detach();
    cluster.#superviseHere(policy, "process", socket);
    return cluster;
  }

  static async #launch(options: ClusterOptions & { profile: string }): Promise<Cluster> {
    const profile = options.profile;
    // 64 engines starting at once on a busy 2-core machine took 34-72 s to register: the wait grows with n.
    const timeout = options.timeout ?? Math.max(30_000, 3_000 * (options.n ?? availableParallelism()));
    const detached = options.daemonize ?? false;
    // Made first: a bad launcher option fails before anything starts.
    const engineLauncher: EngineLauncher = options.engineLauncher ?? (options.engines ? createEngineLauncher(options.engines) : new LocalEngineLauncher());
    const controllerLauncher: ControllerLauncher = options.controllerLauncher ?? (options.controller ? createControllerLauncher(options.controller) : new LocalControllerLauncher());
    const ip = options.ip ?? (engineLauncher.remote || controllerLauncher.remote ? "0.0.0.0" : undefined);
    const clusterId = options.clusterId || undefined;
    const controllerOptions: ControllerLaunchOptions = { profile, ...(clusterId ? { clusterId } : {}), ip, location: options.location, args: options.controllerArgs, detached, timeoutMs: timeout };
    const controller = await controllerLauncher.start(controllerOptions);
    const state: ClusterState = {
      profile, ...(clusterId ? { clusterId } : {}), controller: controller.process, engines: [], clientFile: controller.clientFile, engineFile: controller.engineFile,
      daemon: detached, started: new Date().toISOString(),
    };
    writeState(state);
    const cluster = new Cluster(state, { controller: controllerLauncher, controllerOptions, engine: engineLauncher }, options.engineArgs ?? []);
    try {
      const n = options.n ?? engineLauncher.defaultCount?.() ?? availableParallelism();
      if (n > 0) await cluster.addEngines(n, { timeout });
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /**
   * Attaches to the cluster running in a profile (one started with --daemonize, say); `engines` launches
   * what addEngines adds. With `requireController: false` it also attaches while the controller is down
   * (being restarted, say).
   */
  static fromProfile(profile = "default", { requireController = true, engines, clusterId = "" }: { requireController?: boolean; engines?: EngineLauncherSpec | EngineLauncher; clusterId?: string } = {}): Cluster {
    const state = readState(profile, clusterId);
    if (!state || (requireController && !controllerMayRun(state.controller))) throw new ClusterError(clusterId ? `no cluster "${clusterId}" is running in profile "${profile}"` : `no cluster is running in profile "${profile}"`);
    const launcher = !engines ? new LocalEngineLauncher() : "start" in engines ? engines : createEngineLauncher(engines);
    return new Cluster(state, { controller: new LocalControllerLauncher(), engine: launcher }, []);
  }

  /** Profiles whose cluster's controller is running (what `tspcluster list` lists). */
  static running(): string[] {
    return listProfiles().filter((profile) => {
      const state = readState(profile);
      return state !== undefined && !isKnownGone(state.controller);
    });
  }

  get profile(): string {
    return this.#state.profile;
  }

  /** Which of the profile's clusters this is ("" for the profile's own). */
  get clusterId(): string {
    return this.#state.clusterId ?? "";
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

  /** The supervisor's record (pid, log file, restarts so far), when the cluster is supervised. */
  get supervisor(): SupervisorRecord | undefined {
    return readState(this.profile, this.clusterId)?.supervisor ?? this.#state.supervisor;
  }

  /** A new client of this cluster (made the active one); stop() closes it. */
  async connect(options: Omit<ConnectOptions, "connectionFile" | "profile"> = {}): Promise<Client> {
    const client = await Client.connect({ ...options, connectionFile: this.#state.clientFile });
    client._engineWatch = (registered) => this.#possibleEngines(registered);
    this.#connected.add(client);
    return client;
  }

  /**
   * How many engines may still be registered (what waitForEngines needs to fail early, as ipyparallel's
   * does when engines crash): launched processes not known to have exited (each with its engine count;
   * remote ones and jobs are never known gone), plus registered engines this cluster did not launch.
   */
  #possibleEngines(registered: EngineInfo[]): { possible: number; exited: string[] } {
    // A supervisor restarts what exits: nothing that exited is lost for good.
    if (this.#supervisor || this.#state.supervisor) return { possible: Infinity, exited: [] };
    const launched = this.#state.engines;
    const here = hostname();
    const ours = new Set(launched.filter((p) => p.host === undefined || p.host === here).map((p) => p.pid));
    const elsewhere = registered.filter((e) => !(e.hostname === here && ours.has(e.pid))).length;
    const exited = launched.filter(hasExited);
    const alive = launched.filter((p) => !exited.includes(p)).reduce((sum, p) => sum + (p.engines ?? 1), 0);
    const jobs = (this.#state.jobs ?? []).reduce((sum, j) => sum + j.engines, 0);
    return { possible: alive + jobs + elsewhere, exited: exited.map((p) => `${p.pid} (log: ${p.logFile})`) };
  }

  #closeClients(): void {
    for (const client of this.#connected) client.close();
    this.#connected.clear();
    this.#client?.close();
    this.#client = undefined;
  }

  /** Starts n more engines and resolves with their ids once they are registered. */
  async addEngines(n: number, { timeout = 30_000 }: { timeout?: number } = {}): Promise<number[]> {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`engines to add must be a positive integer, got ${n}`);
    const supervisor = this.#state.supervisor;
    const local = this.#engineLauncher instanceof LocalEngineLauncher;
    if (local && supervisor?.kind === "process" && supervisor.pid !== process.pid && supervisor.socket && isOurs(supervisor)) {
      // The supervisor process starts them, so that it watches them too (and it alone writes cluster.json).
      return askSupervisor(supervisor.socket, { op: "add_engines", n, timeout });
    }
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
    this.#save();
    for (const engine of launched) if (restartable(engine)) this.#supervisor?.watch(engine, "engine");
    // Local engines are known by pid; others (remote pids, MPI ranks, batch tasks) by the launch id they were tagged with.
    const pids = new Set(launched.filter(restartable).map((p) => p.pid));
    const ours = (e: EngineInfo) => pids.has(e.pid) || e.metadata?.launch === launchId;
    const deadline = Date.now() + timeout;
    let nextJobCheck = 0;
    for (;;) {
      const fresh = client.engines.filter((e) => !before.has(e.id) && ours(e) && e.state !== "dead" && e.state !== "stopped");
      if (fresh.length >= n) return fresh.map((e) => e.id).sort((a, b) => a - b);
      const dead = launched.filter(hasExited);
      if (dead.length) {
        const ends = await Promise.all(dead.map((p) => howItEnded(p)));
        throw new ClusterError(
          `engine process${dead.length > 1 ? "es" : ""} ${dead.map((p, i) => `${p.pid} (${ends[i]}log: ${p.logFile})`).join(", ")} exited before registering\n--- ${dead[0]!.logFile} ---\n${logTail(dead[0]!.logFile)}`,
        );
      }
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

  /**
   * Stops the supervisor first (so nothing is restarted), then the engines and the controller;
   * escalates to signals for any process that lingers, and only to processes verified to be ours.
   */
  stop({ timeout = 5000 }: { timeout?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(timeout);
    return this.#stopping;
  }

  async #stop(timeout: number): Promise<void> {
    this.#supervisor?.stop("the cluster is being stopped");
    await this.#supervisor?.settled();
    // Read by supervisors in other processes before any restart.
    if (readState(this.profile, this.clusterId)) {
      this.#state.stopping = true;
      this.#save();
    }
    await this.#stopSupervisorProcess(timeout);
    const members = [this.#state.controller, ...this.#state.engines];
    // A controller we cannot verify (started elsewhere) is still asked politely: that signals no pid.
    // One stopped by someone else (another Cluster of the profile, the CLI) gets no request to wait out.
    const gone = isKnownGone(this.#state.controller) || this.#client?.controllerState === "shut down";
    if (!gone && (isOurs(this.#state.controller) || this.#state.controller.startTime === undefined)) {
      try {
        const client = this.#client ?? (await Client.connect({ connectionFile: this.#state.clientFile, timeout: Math.min(timeout, 3000), activate: false }));
        this.#client = client;
        await client.shutdown({ hub: true });
      } catch {
        // An unresponsive controller is handled by the signals below.
      }
    }
    this.#closeClients();
    let alive = await waitForExit(members, timeout);
    await stopRemoteMembers(this.#state);
    alive = await waitForExit(alive, 2000);
    for (const member of alive) signalIfOurs(member, "SIGTERM");
    alive = await waitForExit(alive, 2000);
    for (const member of alive) signalIfOurs(member, "SIGKILL");
    await waitForExit(alive, 2000);
    await reaped(members, 2000);
    removeState(this.profile, this.clusterId);
  }

  /** Asks a supervisor process (verified) to stop the cluster, and waits for it to be gone. */
  async #stopSupervisorProcess(timeout: number): Promise<void> {
    const supervisor = this.#state.supervisor;
    if (supervisor?.kind !== "process" || supervisor.pid === process.pid) return;
    if (!signalIfOurs(supervisor, "SIGTERM")) return;
    // It stops the cluster itself on SIGTERM: shutdown, then signals after `timeout`, 2 s and 2 s.
    if ((await waitForExit([supervisor], timeout + 10_000)).length) {
      signalIfOurs(supervisor, "SIGKILL");
      await waitForExit([supervisor], 2000);
    }
  }

  /** Lets go of the cluster without stopping it (its processes keep running if daemonized). */
  detach(): void {
    this.#client?.close();
    this.#client = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  [inspect.custom](_depth: number, options: InspectOptions, show: typeof inspect): string {
    const running = (p: LaunchedProcess) => (isKnownGone(p) ? "stopped" : "running");
    const controllerState = this.#client?.controllerState === "shut down" ? "stopped" : running(this.#state.controller);
    const state = {
      profile: this.profile,
      controller: {
        pid: this.#state.controller.pid, state: controllerState,
        ...((this.#state.controller.remote || this.#state.controller.job) && { where: describeController(this.#state.controller) }),
      },
      engines: this.#state.engines.map((p) => ({ pid: p.pid, state: running(p) })),
      ...(this.#client && this.#client.controllerState !== "closed" ? { engineIds: this.#client.ids } : {}),
      daemon: this.#state.daemon,
      clientFile: this.#state.clientFile,
    };
    return `Cluster ${show(state, { ...options, depth: Math.max(options.depth ?? 2, 2) })}`;
  }

  async #ownClient(): Promise<Client> {
    this.#client ??= await Client.connect({ connectionFile: this.#state.clientFile, activate: false });
    return this.#client;
  }

  /** Writes cluster.json, keeping a `stopping` mark another process may have set meanwhile. */
  #save(): void {
    if (readState(this.profile, this.clusterId)?.stopping) this.#state.stopping = true;
    writeState(this.#state);
  }

  #superviseHere(policy: RestartPolicy, kind: SupervisorRecord["kind"], socket?: string): void {
    const log = new SupervisorLog(supervisorLogFile(this.profile));
    const me = identify(process.pid);
    this.#state.supervisor = {
      kind, pid: process.pid, host: hostname(), ...(me && { startTime: me.startTime, cmdline: me.cmdline }), logFile: log.file, restarts: 0,
      ...(socket && { socket }),
    };
    this.#save();
    const supervisor = new Supervisor(this.#supervised(), policy, log);
    this.#supervisor = supervisor;
    log.write(`supervising the cluster of profile "${this.profile}" (${kind}, pid ${process.pid}): at most ${policy.maxRestarts} restarts per member within ${policy.windowMs / 1000} s, backoff ${policy.backoffMs} ms doubling up to ${policy.maxBackoffMs} ms`);
    supervisor.watch(this.#state.controller, "controller");
    for (const engine of this.#state.engines) if (restartable(engine)) supervisor.watch(engine, "engine");
  }

  /** Settles when the supervisor of this process has nothing left to supervise (undefined: none here). */
  get _supervisionEnded(): Promise<string> | undefined {
    return this.#supervisor?.ended;
  }

  #supervised(): SupervisedCluster {
    return {
      isStopping: () => {
        if (this.#stopping) return true;
        const onDisk = readState(this.profile, this.clusterId);
        return !onDisk || onDisk.stopping === true;
      },
      relaunchController: async () => {
        if (!this.#controllerOptions) throw new ClusterError("this Cluster did not start the controller");
        const launched = await this.#controllerLauncher.start({ ...this.#controllerOptions, restore: true });
        // The old client talked to the crashed controller; the next one connects to the new.
        this.#client?.close();
        this.#client = undefined;
        this.#state.controller = launched.process;
        this.#state.clientFile = launched.clientFile;
        this.#state.engineFile = launched.engineFile;
        this.#save();
        return launched.process;
      },
      relaunchEngine: async (old) => {
        const index = this.#state.engines.indexOf(old);
        const started = await this.#engineLauncher.start(1, {
          profile: this.profile, engineFile: this.#state.engineFile, args: this.#engineArgs, detached: this.#state.daemon,
          firstIndex: index < 0 ? this.#state.engines.length : index,
        });
        const [engine] = Array.isArray(started) ? started : started.processes;
        if (!engine) throw new ClusterError("the engine launcher started no engine");
        if (index < 0) this.#state.engines.push(engine);
        else this.#state.engines[index] = engine;
        this.#save();
        return engine;
      },
      forgetEngine: (old) => {
        const index = this.#state.engines.indexOf(old);
        if (index < 0) return;
        this.#state.engines.splice(index, 1);
        this.#save();
      },
      countRestart: () => {
        if (!this.#state.supervisor) return;
        this.#state.supervisor.restarts++;
        this.#save();
      },
    };
  }
}
