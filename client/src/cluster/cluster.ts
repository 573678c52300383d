import { randomUUID } from "node:crypto";
import { availableParallelism, hostname } from "node:os";
import { inspect, type InspectOptions } from "node:util";
import { validateClusterId, type EngineInfo } from "@tsparallel/protocol";
import { Client, type ConnectOptions } from "../client.js";
import { cancelJobs, jobPresent } from "./batch-launcher.js";
import { readClusterConfig, withClusterConfig } from "./cluster-config.js";
import { ClusterError } from "./cluster-error.js";
import {
  controllerLauncherSpec, controllerMayRun, controllerRunning, createControllerLauncher, describeController, stopRemoteController,
  type ControllerLauncherChoice, type ControllerLauncherSpec,
} from "./controller-launchers.js";
import { createEngineLauncher, engineLauncherSpec, type EngineLauncherChoice, type EngineLauncherSpec } from "./engine-launchers.js";
import type { ControllerLaunchOptions, ControllerLauncher, EngineLauncher, LaunchedJob, LaunchedProcess } from "./launcher.js";
import { logTail } from "./launch-tools.js";
import { LocalControllerLauncher, LocalEngineLauncher, howItEnded } from "./local-launcher.js";
import { endLingering, waitForExit } from "./process-exit.js";
import { hasExited, identify, isKnownGone, isOurs, signalIfOurs } from "./process-identity.js";
import { restartPolicy, type RestartPolicy } from "./restart-policy.js";
import { listClusters, readState, removeState, writeState, type ClusterRef, type ClusterState, type SupervisorRecord } from "./state.js";
import { Supervisor, type SupervisedCluster } from "./supervisor.js";
import { SupervisorLog } from "./supervisor-log.js";
import { stopSshEngines } from "./ssh-launcher.js";
import { askSupervisor, startSupervisorProcess, supervisorLogFile } from "./supervisor-process.js";

export { ClusterError };

export interface ClusterOptions {
  /** Engines to start (default: the hosts' counts for ssh, else the number of CPUs). */
  n?: number;
  /**
   * Which launcher starts the engines and its options (default local), or only its name in any case
   * ("mpi", "MPI", "slurm"); `engineLauncher` overrides it.
   */
  engines?: EngineLauncherChoice;
  /**
   * Where the controller runs (default local): `{ launcher: "ssh", host: "hostA" }` on another host,
   * `{ launcher: "slurm", partition }` (or "slurm") in its own Slurm job; `controllerLauncher` overrides it.
   */
  controller?: ControllerLauncherChoice;
  /**
   * The profile (default "default"). Its directory's cluster-config.json, when there is one, gives the
   * defaults of these options (see ClusterConfig); options given here win, key by key.
   */
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

/** A Cluster's options once the profile's config is applied: launchers named by their specs, in lower case. */
export type ResolvedClusterOptions = Readonly<Omit<ClusterOptions, "engines" | "controller" | "profile"> & { profile: string; engines?: EngineLauncherSpec; controller?: ControllerLauncherSpec }>;

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

/**
 * A controller and its engines, started by launchers: ipcluster's job, from code or the CLI.
 * `Cluster.start(options)` starts both; `Cluster.create(options)` makes one to start in steps
 * (`startController`, `startEngines`, `stopEngines`, `restartEngines`, `stopController`), as
 * ipyparallel's Cluster does.
 */
export class Cluster implements AsyncDisposable {
  /** Undefined until the controller is started, and again after stopController(). */
  #state: ClusterState | undefined;
  readonly #profile: string;
  readonly #options: ResolvedClusterOptions;
  #client: Client | undefined;
  readonly #controllerLauncher: ControllerLauncher;
  /** What starts (and restarts) the controller; undefined for a Cluster attached by fromProfile. */
  #controllerOptions: ControllerLaunchOptions | undefined;
  /** Clients handed out by connect(): a stopped cluster closes them, so a script can exit. */
  readonly #connected = new Set<Client>();
  readonly #engineLauncher: EngineLauncher;
  readonly #engineArgs: string[];
  #supervisor: Supervisor | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(
    options: ResolvedClusterOptions,
    state: ClusterState | undefined,
    launchers: { controller: ControllerLauncher; controllerOptions?: ControllerLaunchOptions; engine: EngineLauncher },
  ) {
    this.#profile = options.profile;
    this.#options = options;
    this.#state = state;
    this.#controllerLauncher = launchers.controller;
    this.#controllerOptions = launchers.controllerOptions;
    this.#engineLauncher = launchers.engine;
    this.#engineArgs = options.engineArgs ?? [];
  }

  /** Starts a controller and its engines (`create(options)` then `startCluster()`). */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const cluster = Cluster.create(options);
    await cluster.startCluster();
    return cluster;
  }

  /**
   * A cluster not started yet, its options read from the profile's cluster-config.json under the ones
   * given. Throws at once for a bad option, launcher name or config file.
   */
  static create(options: ClusterOptions = {}): Cluster {
    const profile = options.profile ?? "default";
    return Cluster.#made({ ...withClusterConfig(readClusterConfig(profile), options), profile });
  }

  static #made(given: ClusterOptions & { profile: string }): Cluster {
    const options: ResolvedClusterOptions = {
      ...given,
      clusterId: validateClusterId(given.clusterId ?? ""),
      engines: given.engines === undefined ? undefined : engineLauncherSpec(given.engines),
      controller: given.controller === undefined ? undefined : controllerLauncherSpec(given.controller),
    };
    // Made first: a bad launcher option fails before anything starts.
    const engineLauncher: EngineLauncher = options.engineLauncher ?? (options.engines ? createEngineLauncher(options.engines) : new LocalEngineLauncher());
    const controllerLauncher: ControllerLauncher = options.controllerLauncher ?? (options.controller ? createControllerLauncher(options.controller) : new LocalControllerLauncher());
    if (options.n !== undefined && (!Number.isInteger(options.n) || options.n < 0)) throw new RangeError(`n (engines to start) must be a whole number, got ${options.n}`);
    // 64 engines starting at once on a busy 2-core machine took 34-72 s to register: the wait grows with n.
    const timeout = options.timeout ?? Math.max(30_000, 3_000 * (options.n ?? availableParallelism()));
    // As a controller argument, so a supervisor process and a restarted controller keep it.
    const curve = options.curve === undefined ? [] : [options.curve ? "--curve" : "--no-curve"];
    const controllerOptions: ControllerLaunchOptions = {
      profile: options.profile, ...(options.clusterId ? { clusterId: options.clusterId } : {}), ip: options.ip ?? (engineLauncher.remote || controllerLauncher.remote ? "0.0.0.0" : undefined), location: options.location,
      args: [...curve, ...(options.controllerArgs ?? [])], detached: options.daemonize ?? false, timeoutMs: timeout,
    };
    return new Cluster(options, undefined, { controller: controllerLauncher, controllerOptions, engine: engineLauncher });
  }

  /**
   * Starts the controller, then the engines (`n`, by default the launcher's count or the CPUs), and
   * supervises them when asked; a failure stops what was started.
   */
  async startCluster(): Promise<void> {
    const options = this.#options;
    const policy = options.supervise ? restartPolicy(typeof options.supervise === "object" ? options.supervise : {}) : undefined;
    if (policy && options.daemonize) {
      if (options.controllerLauncher || options.engineLauncher) {
        throw new ClusterError("a supervisor process starts local processes only: give custom launchers without `daemonize`, or without `supervise`");
      }
      if (this.#state) throw new ClusterError(`the controller of profile "${this.profile}" is already started by this Cluster`);
      await this.#refuseRunning();
      await startSupervisorProcess({ ...options, controllerArgs: this.#controllerOptions?.args, curve: undefined, supervise: policy });
      const state = readState(this.profile, this.clusterId);
      if (!state) throw new ClusterError(`the supervisor process of profile "${this.profile}" said it was ready, but wrote no cluster.json`);
      // The supervisor process restarts the controller; this object only attaches to it.
      this.#state = state;
      this.#controllerOptions = undefined;
      return;
    }
    await this.startController();
    try {
      const n = options.n ?? this.#engineLauncher.defaultCount?.() ?? availableParallelism();
      if (n > 0) await this.addEngines(n, { timeout: this.#controllerOptions!.timeoutMs });
    } catch (err) {
      await this.stopController();
      throw err;
    }
    if (policy) this.#superviseHere(policy, "in-process");
  }

  /**
   * What a supervisor process runs: the cluster, started and supervised by the calling process.
   * @internal
   */
  static async _startSupervisedHere(options: ClusterOptions & { profile: string }, policy: RestartPolicy, socket: string | undefined): Promise<Cluster> {
    // Its options come from the process that read the profile's config; this one supervises itself.
    const cluster = Cluster.#made({ ...options, supervise: undefined, daemonize: true });
    await cluster.startCluster();
    // Its client is not needed until the next `engines add`, and would only follow the controller's restarts.
    cluster.detach();
    cluster.#superviseHere(policy, "process", socket);
    return cluster;
  }

  /** A cluster already running in the profile (or its supervisor process) is not started twice. */
  async #refuseRunning(): Promise<void> {
    const existing = readState(this.profile, this.clusterId);
    // A supervisor process counts too: its controller may be down only while it is being restarted.
    if (existing && ((await controllerRunning(existing.controller)) || (existing.supervisor?.kind === "process" && isOurs(existing.supervisor)))) {
      const running = `(${describeController(existing.controller)})`;
      const profile = this.profile;
      const clusterId = this.clusterId;
      if (clusterId) throw new ClusterError(`cluster "${clusterId}" of profile "${profile}" is already running ${running}: stop it with \`tspcluster stop --profile ${profile} --cluster-id ${clusterId}\` or Cluster.fromProfile(${JSON.stringify(profile)}, { clusterId: ${JSON.stringify(clusterId)} }).stop()`);
      throw new ClusterError(`a cluster is already running in profile "${profile}" ${running}: stop it with \`tspcluster stop --profile ${profile}\``);
    }
  }

  /** Starts the controller alone (ipyparallel's start_controller); a second call while it runs is a ClusterError. */
  async startController(): Promise<void> {
    if (this.#state) throw new ClusterError(`the controller of profile "${this.profile}" is already started by this Cluster (${describeController(this.#state.controller)})`);
    const controllerOptions = this.#controllerOptions;
    if (!controllerOptions) throw new ClusterError(`this Cluster was attached to profile "${this.profile}" (fromProfile): start a new one with Cluster.start or Cluster.create`);
    await this.#refuseRunning();
    const controller = await this.#controllerLauncher.start(controllerOptions);
    this.#stopping = undefined;
    this.#state = {
      profile: this.profile, ...(this.clusterId ? { clusterId: this.clusterId } : {}), controller: controller.process, engines: [], clientFile: controller.clientFile, engineFile: controller.engineFile,
      daemon: controllerOptions.detached, started: new Date().toISOString(),
    };
    writeState(this.#state);
  }

  /**
   * Stops the controller, and with it the engines (they cannot work without it) and any supervisor;
   * this Cluster can then start again. Nothing to do when it is not started (so it may be called twice).
   */
  async stopController({ timeout = 5000 }: { timeout?: number } = {}): Promise<void> {
    if (!this.#state) return;
    await this.stop({ timeout });
    this.#state = undefined;
    this.#stopping = undefined;
    this.#supervisor = undefined;
  }

  /**
   * Attaches to the cluster running in a profile (one started with --daemonize, say); `engines` launches
   * what addEngines adds. With `requireController: false` it also attaches while the controller is down
   * (being restarted, say).
   */
  static fromProfile(
    profile = "default",
    { requireController = true, engines, clusterId = "" }: { requireController?: boolean; engines?: EngineLauncherChoice | EngineLauncher; clusterId?: string } = {},
  ): Cluster {
    const state = readState(profile, clusterId);
    if (!state || (requireController && !controllerMayRun(state.controller))) throw new ClusterError(clusterId ? `no cluster "${clusterId}" is running in profile "${profile}"` : `no cluster is running in profile "${profile}"`);
    const launcher = !engines ? new LocalEngineLauncher() : typeof engines === "object" && "start" in engines ? engines : createEngineLauncher(engines);
    return new Cluster({ profile, clusterId }, state, { controller: new LocalControllerLauncher(), engine: launcher });
  }

  /**
   * Profiles whose own cluster's controller is running (the ones `fromProfile(profile)` attaches to);
   * `runningClusters()` also lists the clusters with ids.
   */
  static running(): string[] {
    return Cluster.runningClusters().filter((c) => c.clusterId === "").map((c) => c.profile);
  }

  /**
   * Every cluster whose controller is running, of every profile, the ones with cluster ids included
   * (what `tspcluster list` lists): by profile, then cluster id ("" for the profile's own, first).
   */
  static runningClusters(): ClusterRef[] {
    return listClusters().filter(({ profile, clusterId }) => {
      const state = readState(profile, clusterId);
      return state !== undefined && !isKnownGone(state.controller);
    });
  }

  get profile(): string {
    return this.#profile;
  }

  /** Which of the profile's clusters this is ("" for the profile's own). */
  get clusterId(): string {
    return this.#options.clusterId ?? "";
  }

  /** Its options: the ones given over the profile's cluster-config.json (for a Cluster from fromProfile: only the profile). */
  get options(): ResolvedClusterOptions {
    return this.#options;
  }

  /** Whether its controller is started (and not stopped with stopController): `controller` and `connect` need it. */
  get started(): boolean {
    return this.#state !== undefined;
  }

  /** Whether its controller is started and its process (or job) still runs, as far as this host can tell. */
  get running(): boolean {
    return this.#state !== undefined && controllerMayRun(this.#state.controller);
  }

  /** The state of a started cluster, or a ClusterError saying to start it first. */
  #started(toDo: string): ClusterState {
    if (!this.#state) throw new ClusterError(`cannot ${toDo}: the controller of profile "${this.profile}" is not started (startController() or startCluster() first)`);
    return this.#state;
  }

  /** The controller's process record; a ClusterError before startController() (see `started`). */
  get controller(): LaunchedProcess {
    return this.#started("read the controller").controller;
  }

  get engines(): LaunchedProcess[] {
    return [...(this.#state?.engines ?? [])];
  }

  /** Batch jobs running engines of this cluster. */
  get jobs(): LaunchedJob[] {
    return [...(this.#state?.jobs ?? [])];
  }

  /** Engines started by its launchers (a process such as mpiexec or a job may run several). */
  get engineCount(): number {
    return this.engines.reduce((sum, p) => sum + (p.engines ?? 1), 0) + this.jobs.reduce((sum, j) => sum + j.engines, 0);
  }

  get clientFile(): string {
    return this.#started("read the client file").clientFile;
  }

  /** The supervisor's record (pid, log file, restarts so far), when the cluster is supervised. */
  get supervisor(): SupervisorRecord | undefined {
    return readState(this.profile, this.clusterId)?.supervisor ?? this.#state?.supervisor;
  }

  /** A new client of this cluster (made the active one); stop() closes it. */
  async connect(options: Omit<ConnectOptions, "connectionFile" | "profile"> = {}): Promise<Client> {
    const client = await Client.connect({ ...options, connectionFile: this.#started("connect").clientFile });
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
    if (this.#supervisor || this.#state?.supervisor) return { possible: Infinity, exited: [] };
    const launched = this.engines;
    const here = hostname();
    const ours = new Set(launched.filter((p) => p.host === undefined || p.host === here).map((p) => p.pid));
    const elsewhere = registered.filter((e) => !(e.hostname === here && ours.has(e.pid))).length;
    const exited = launched.filter(hasExited);
    const alive = launched.filter((p) => !exited.includes(p)).reduce((sum, p) => sum + (p.engines ?? 1), 0);
    const jobs = this.jobs.reduce((sum, j) => sum + j.engines, 0);
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
    const state = this.#started("add engines");
    const supervisor = state.supervisor;
    const local = this.#engineLauncher instanceof LocalEngineLauncher;
    if (local && supervisor?.kind === "process" && supervisor.pid !== process.pid && supervisor.socket && isOurs(supervisor)) {
      // The supervisor process starts them, so that it watches them too (and it alone writes cluster.json).
      return askSupervisor(supervisor.socket, { op: "add_engines", n, timeout });
    }
    const client = await this.#ownClient();
    const before = new Set(client.ids);
    const launchId = randomUUID();
    const result = await this.#engineLauncher.start(n, {
      profile: this.profile, engineFile: state.engineFile, args: this.#engineArgs, detached: state.daemon,
      firstIndex: this.engineCount, launchId,
    });
    const { processes: launched, jobs } = Array.isArray(result) ? { processes: result, jobs: [] } : result;
    state.engines.push(...launched);
    if (jobs.length) (state.jobs ??= []).push(...jobs);
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

  /** Starts n engines (default: the `n` it was made with, else the launcher's count or the CPUs); resolves with their ids once registered. */
  startEngines(n?: number, options: { timeout?: number } = {}): Promise<number[]> {
    const count = n ?? this.#options.n ?? this.#engineLauncher.defaultCount?.() ?? availableParallelism();
    return this.addEngines(count, { timeout: options.timeout ?? this.#controllerOptions?.timeoutMs });
  }

  /**
   * Stops every engine of the cluster and forgets the processes and jobs that ran them; the controller
   * keeps running. Engines are asked through the controller, then what outlives that is ended as stop()
   * does (ssh engines by their remote pid, jobs cancelled, local processes signalled if verified ours).
   */
  async stopEngines({ timeout = 5000 }: { timeout?: number } = {}): Promise<void> {
    const state = this.#started("stop engines");
    const launched = [...state.engines];
    const jobs = [...(state.jobs ?? [])];
    try {
      // Every alive engine (targets null). Stopped on purpose, they exit with 0: a supervisor forgets them instead of restarting them.
      await (await this.#ownClient()).shutdown();
    } catch {
      // An unresponsive controller: the signals below end what is ours.
    }
    const alive = await waitForExit(launched, timeout);
    await stopSshEngines(launched);
    if (jobs.length) await cancelJobs(jobs);
    await endLingering(alive, launched);
    state.engines = state.engines.filter((p) => !launched.includes(p));
    state.jobs = (state.jobs ?? []).filter((j) => !jobs.includes(j));
    this.#save();
  }

  /**
   * Stops the engines and starts as many new ones (ipyparallel's restart_engines): new processes, new
   * engine ids, the namespace empty. Resolves with the new ids once they are registered.
   */
  async restartEngines({ timeout }: { timeout?: number } = {}): Promise<number[]> {
    const state = this.#started("restart engines");
    // cluster.json names each launch's launcher but not its options: a Cluster from fromProfile() would start local engines instead.
    const elsewhere = [...state.engines.map((p) => p.launcher ?? "local"), ...(state.jobs ?? []).map((j) => j.launcher)].filter((l) => l !== "local");
    if (elsewhere.length && this.#engineLauncher instanceof LocalEngineLauncher) {
      throw new ClusterError(`the engines of profile "${this.profile}" were started by the ${elsewhere[0]} launcher: restart them from the Cluster that started them, or give fromProfile the same engines launcher`);
    }
    const n = this.engineCount;
    await this.stopEngines(timeout === undefined ? {} : { timeout });
    return n > 0 ? this.addEngines(n, { timeout: timeout ?? this.#controllerOptions?.timeoutMs }) : [];
  }

  /**
   * Stops the supervisor first (so nothing is restarted), then the engines and the controller;
   * escalates to signals for any process that lingers, and only to processes verified to be ours.
   */
  stop({ timeout = 5000 }: { timeout?: number } = {}): Promise<void> {
    const state = this.#state;
    if (!state) return Promise.resolve();
    this.#stopping ??= this.#stop(state, timeout);
    return this.#stopping;
  }

  /** ipyparallel's stop_cluster: the same as stop(). */
  stopCluster(options: { timeout?: number } = {}): Promise<void> {
    return this.stop(options);
  }

  async #stop(state: ClusterState, timeout: number): Promise<void> {
    this.#supervisor?.stop("the cluster is being stopped");
    await this.#supervisor?.settled();
    // Read by supervisors in other processes before any restart.
    if (readState(this.profile, this.clusterId)) {
      state.stopping = true;
      this.#save();
    }
    await this.#stopSupervisorProcess(timeout);
    const members = [state.controller, ...state.engines];
    // A controller we cannot verify (started elsewhere) is still asked politely: that signals no pid.
    // One stopped by someone else (another Cluster of the profile, the CLI) gets no request to wait out.
    const gone = isKnownGone(state.controller) || this.#client?.controllerState === "shut down";
    if (!gone && (isOurs(state.controller) || state.controller.startTime === undefined)) {
      try {
        const client = this.#client ?? (await Client.connect({ connectionFile: state.clientFile, timeout: Math.min(timeout, 3000), activate: false }));
        this.#client = client;
        await client.shutdown({ hub: true });
      } catch {
        // An unresponsive controller is handled by the signals below.
      }
    }
    this.#closeClients();
    const alive = await waitForExit(members, timeout);
    await stopRemoteMembers(state);
    await endLingering(alive, members);
    removeState(this.profile, this.clusterId);
  }

  /** Asks a supervisor process (verified) to stop the cluster, and waits for it to be gone. */
  async #stopSupervisorProcess(timeout: number): Promise<void> {
    const supervisor = this.#state?.supervisor;
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
    if (!this.#state) return `Cluster ${show({ profile: this.profile, controller: "not started" }, options)}`;
    const st = this.#state;
    const running = (p: LaunchedProcess) => (isKnownGone(p) ? "stopped" : "running");
    const controllerState = this.#client?.controllerState === "shut down" ? "stopped" : running(st.controller);
    const state = {
      profile: this.profile,
      controller: {
        pid: st.controller.pid, state: controllerState,
        ...((st.controller.remote || st.controller.job) && { where: describeController(st.controller) }),
      },
      engines: st.engines.map((p) => ({ pid: p.pid, state: running(p) })),
      ...(this.#client && this.#client.controllerState !== "closed" ? { engineIds: this.#client.ids } : {}),
      daemon: st.daemon,
      clientFile: st.clientFile,
    };
    return `Cluster ${show(state, { ...options, depth: Math.max(options.depth ?? 2, 2) })}`;
  }

  async #ownClient(): Promise<Client> {
    this.#client ??= await Client.connect({ connectionFile: this.#started("reach the controller").clientFile, activate: false });
    return this.#client;
  }

  /** Writes cluster.json, keeping a `stopping` mark another process may have set meanwhile. */
  #save(): void {
    if (!this.#state) return;
    if (readState(this.profile, this.clusterId)?.stopping) this.#state.stopping = true;
    writeState(this.#state);
  }

  #superviseHere(policy: RestartPolicy, kind: SupervisorRecord["kind"], socket?: string): void {
    const state = this.#started("supervise");
    const log = new SupervisorLog(supervisorLogFile(this.profile));
    const me = identify(process.pid);
    state.supervisor = {
      kind, pid: process.pid, host: hostname(), ...(me && { startTime: me.startTime, cmdline: me.cmdline }), logFile: log.file, restarts: 0,
      ...(socket && { socket }),
    };
    this.#save();
    const supervisor = new Supervisor(this.#supervised(), policy, log);
    this.#supervisor = supervisor;
    log.write(`supervising ${this.clusterId ? `cluster "${this.clusterId}"` : "the cluster"} of profile "${this.profile}" (${kind}, pid ${process.pid}): at most ${policy.maxRestarts} restarts per member within ${policy.windowMs / 1000} s, backoff ${policy.backoffMs} ms doubling up to ${policy.maxBackoffMs} ms`);
    supervisor.watch(state.controller, "controller");
    for (const engine of state.engines) if (restartable(engine)) supervisor.watch(engine, "engine");
  }

  /** Settles when the supervisor of this process has nothing left to supervise (undefined: none here). */
  get _supervisionEnded(): Promise<string> | undefined {
    return this.#supervisor?.ended;
  }

  #supervised(): SupervisedCluster {
    const state = () => this.#started("supervise");
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
        state().controller = launched.process;
        state().clientFile = launched.clientFile;
        state().engineFile = launched.engineFile;
        this.#save();
        return launched.process;
      },
      relaunchEngine: async (old) => {
        const index = state().engines.indexOf(old);
        const started = await this.#engineLauncher.start(1, {
          profile: this.profile, engineFile: state().engineFile, args: this.#engineArgs, detached: state().daemon,
          firstIndex: index < 0 ? state().engines.length : index,
        });
        const [engine] = Array.isArray(started) ? started : started.processes;
        if (!engine) throw new ClusterError("the engine launcher started no engine");
        if (index < 0) state().engines.push(engine);
        else state().engines[index] = engine;
        this.#save();
        return engine;
      },
      forgetEngine: (old) => {
        const engines = this.#state?.engines ?? [];
        const index = engines.indexOf(old);
        if (index < 0) return;
        engines.splice(index, 1);
        this.#save();
      },
      countRestart: () => {
        const supervisor = this.#state?.supervisor;
        if (!supervisor) return;
        supervisor.restarts++;
        this.#save();
      },
    };
  }
}
