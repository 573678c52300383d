import { setTimeout as sleep } from "node:timers/promises";
import { Command, InvalidArgumentError } from "commander";
import { Client } from "../client.js";
import { validateClusterId, type EngineStatus } from "@tsparallel/protocol";
import { Cluster, stopRemoteMembers } from "../cluster/cluster.js";
import { readClusterConfig } from "../cluster/cluster-config.js";
import { controllerRunning, describeController } from "../cluster/controller-launchers.js";
import { isOurs } from "../cluster/process-identity.js";
import { DEFAULT_RESTART_POLICY } from "../cluster/restart-policy.js";
import { listClusterIds, listClusters, readState, removeState, type ClusterRef, type ClusterState } from "../cluster/state.js";
import { addControllerOptions, addLauncherOptions, controllerSpec, launcherSpec, type ControllerCliOptions, type LauncherCliOptions } from "./launcher-options.js";

interface StartOptions extends LauncherCliOptions, ControllerCliOptions {
  n?: number;
  profile: string;
  clusterId: string;
  ip?: string;
  location?: string;
  curve?: boolean;
  daemonize: boolean;
  scheme?: string;
  hwm?: string;
  supervise: boolean;
  heartbeatPeriod?: string;
  heartbeatMisses?: string;
  maxRestarts: number;
  restartWindow: number;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
}

/** The supervisor column of `tspcluster list`. */
function supervisorColumn(state: ClusterState): string {
  const supervisor = state.supervisor;
  if (!supervisor) return "none";
  const where = supervisor.kind === "process" ? "pid" : "in pid";
  return isOurs(supervisor) ? `${where} ${supervisor.pid}, ${supervisor.restarts} restarts` : `gone (was pid ${supervisor.pid})`;
}

/** A cluster id as the controller takes it, or commander's usage error. */
function clusterIdArg(value: string): string {
  try {
    return validateClusterId(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const CLUSTER_ID_HELP = "one of several clusters in the profile (ipcluster's --cluster-id; default: the profile's own)";

/** How messages name a cluster: `the cluster of profile "p"`, or `cluster "a" of profile "p"`. */
function named({ profile, clusterId }: ClusterRef): string {
  return clusterId ? `cluster "${clusterId}" of profile "${profile}"` : `the cluster of profile "${profile}"`;
}

/** The CLUSTER ID column: '' for the profile's own cluster, as ipcluster list shows it. */
function idColumn(clusterId: string): string {
  return clusterId || "''";
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

/** `tspcluster list`'s lines per host and launcher: "\t\thost h (ssh): 0 1" ("0(rank 0)" under MPI or Slurm). */
function byHost(engines: EngineStatus[]): string[] {
  const groups = new Map<string, string[]>();
  for (const e of engines) {
    if (e.state === "dead" || e.state === "stopped") continue;
    const key = `host ${e.metadata?.host ?? e.hostname} (${e.metadata?.launcher ?? "local"})`;
    const rank = e.metadata?.rank;
    groups.set(key, [...(groups.get(key) ?? []), rank === undefined ? String(e.id) : `${e.id}(rank ${rank})`]);
  }
  return [...groups].map(([key, ids]) => `\t\t${key}: ${ids.join(" ")}`);
}

const program = new Command("tspcluster").description("Start, stop and list tsparallel clusters (controller + engines)").showHelpAfterError();

addControllerOptions(addLauncherOptions(program
  .command("start")
  .description("start a controller and n engines")
  .option("-n, --n <count>", "number of engines (default: CPU count; with --engines ssh: the hosts' counts)", positiveInt)
  .option("--profile <name>", "profile (its directory's cluster-config.json gives the defaults of these options)", "default")
  .option("--cluster-id <id>", CLUSTER_ID_HELP, clusterIdArg, "")
  .option("--ip <address>", "address to bind (default 127.0.0.1; 0.0.0.0 with ssh, slurm or batch engines, or a controller elsewhere)")))
  .option("--location <host>", "address engines and clients connect to")
  .option("--curve", "encrypt every socket with ZeroMQ CURVE; only holders of the connection file connect (default: on when --ip is not a loopback address)")
  .option("--no-curve", "no CURVE on the client, engine and heartbeat sockets, even on a non-loopback address")
  .option("--daemonize", "return once ready and leave the cluster running", false)
  .option("--scheme <scheme>", "load-balancing scheme: leastload, lru, random, weighted")
  .option("--hwm <n>", "max outstanding tasks per engine for the load balancer (0: no limit)")
  .option("--heartbeat-period <ms>", "how often engines beat (default 1000)")
  .option("--heartbeat-misses <n>", "beats in a row an engine may miss before it is declared dead (default 15)")
  .option("--no-supervise", "do not restart a crashed controller or crashed engines")
  .option("--max-restarts <n>", "restarts of one crashed process within the restart window before giving up on it", nonNegativeInt, DEFAULT_RESTART_POLICY.maxRestarts)
  .option("--restart-window <seconds>", "the window --max-restarts counts in", positiveInt, DEFAULT_RESTART_POLICY.windowMs / 1000)
  .action(async (opts: StartOptions, command: Command) => {
    // The profile's cluster-config.json gives what the command line does not (Cluster.start reads it too).
    const config = readClusterConfig(opts.profile);
    const flags = [...(opts.scheme ? ["--scheme", opts.scheme] : []), ...(opts.hwm !== undefined ? ["--hwm", opts.hwm] : [])];
    if (opts.heartbeatPeriod !== undefined) flags.push("--heartbeat-period", opts.heartbeatPeriod);
    if (opts.heartbeatMisses !== undefined) flags.push("--heartbeat-misses", opts.heartbeatMisses);
    // The file's controller arguments first: a flag given here comes later, so it wins.
    const controllerArgs = flags.length ? [...(config?.controllerArgs ?? []), ...flags] : undefined;
    const explicit = (name: string) => command.getOptionValueSource(name) === "cli";
    const policy = { maxRestarts: opts.maxRestarts, windowMs: opts.restartWindow * 1000 };
    // Supervised by default from the command line, unless the profile's config says otherwise.
    const supervise = ["supervise", "maxRestarts", "restartWindow"].some(explicit) || config?.supervise === undefined ? opts.supervise && policy : undefined;
    const started = Date.now();
    const engines = launcherSpec(opts);
    const controller = controllerSpec(opts);
    const cluster = await Cluster.start({ n: opts.n, profile: opts.profile, clusterId: opts.clusterId, ip: opts.ip, location: opts.location, curve: opts.curve, daemonize: opts.daemonize, controllerArgs, supervise, engines, controller });
    const launched = [...cluster.engines.map((e) => String(e.pid)), ...cluster.jobs.map((j) => `${j.launcher} job ${j.jobId}`)];
    const id = cluster.clusterId ? ` cluster id "${cluster.clusterId}",` : "";
    console.log(`cluster ready in ${Date.now() - started} ms: profile "${cluster.profile}",${id} ${describeController(cluster.controller)}, ${cluster.engineCount} engines (${launched.join(", ")})`);
    const supervisor = cluster.supervisor;
    if (supervisor) console.log(`supervised by pid ${supervisor.pid}: crashed processes are restarted (log: ${supervisor.logFile})`);
    const where = [...(cluster.profile === "default" ? [] : [`profile: "${cluster.profile}"`]), ...(cluster.clusterId ? [`clusterId: "${cluster.clusterId}"`] : [])];
    console.log(`connect with: await Client.connect(${where.length ? `{ ${where.join(", ")} }` : ""})`);
    if (opts.daemonize) {
      cluster.detach();
      process.exit(0);
    }
    console.log("press Ctrl+C to stop it");
    const stop = async () => {
      console.log("stopping the cluster...");
      await cluster.stop();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // Stopped from elsewhere (tspcluster stop, a client's shutdown), or its controller given up on.
    void cluster._supervisionEnded?.then(async (reason) => {
      console.log(`the cluster ended: ${reason}`);
      await cluster.stop();
      process.exit(0);
    });
  });

/** Stops one cluster (or cleans up after one already gone); false when it has no state file. */
async function stopOne(ref: ClusterRef): Promise<boolean> {
  const state = readState(ref.profile, ref.clusterId);
  if (!state) return false;
  const supervisorRuns = state.supervisor?.kind === "process" && isOurs(state.supervisor);
  if (!(await controllerRunning(state.controller)) && !supervisorRuns) {
    // Whatever runs under those pids now is not ours (or nothing does): nothing is signalled here.
    await stopRemoteMembers(state);
    removeState(ref.profile, ref.clusterId);
    console.log(`${named(ref)} was already gone; cleaned up its state`);
    return true;
  }
  await Cluster.fromProfile(ref.profile, { requireController: false, clusterId: ref.clusterId }).stop();
  console.log(`stopped ${named(ref)}`);
  return true;
}

program
  .command("stop")
  .description("stop the cluster of a profile (or one of its clusters by id, or all of them)")
  .option("--profile <name>", "profile", "default")
  .option("--cluster-id <id>", CLUSTER_ID_HELP, clusterIdArg, "")
  .option("--all", "stop every cluster of the profile, whatever its cluster id (ipcluster stop --all)", false)
  .action(async (opts: { profile: string; clusterId: string; all: boolean }, command: Command) => {
    if (opts.all && command.getOptionValueSource("clusterId") === "cli") throw new InvalidArgumentError("give --cluster-id or --all, not both");
    const ids = opts.all ? listClusterIds(opts.profile) : [opts.clusterId];
    let stopped = 0;
    const failed: string[] = [];
    for (const clusterId of ids) {
      try {
        if (await stopOne({ profile: opts.profile, clusterId })) stopped++;
      } catch (err) {
        // With --all, one that cannot be stopped does not keep the others running.
        if (!opts.all) throw err;
        failed.push(`${named({ profile: opts.profile, clusterId })}: ${(err as Error).message}`);
      }
    }
    if (failed.length) {
      console.error(`tspcluster: could not stop ${failed.join("; ")}`);
      process.exit(1);
    }
    if (stopped === 0) {
      console.error(opts.clusterId ? `no cluster "${opts.clusterId}" is running in profile "${opts.profile}"` : `no cluster is running in profile "${opts.profile}"`);
      process.exit(1);
    }
    process.exit(0);
  });

program
  .command("list")
  .description("list the running clusters of every profile (cluster ids included) and their engines")
  .option("--profile <name>", "only this profile's clusters")
  .action(async (opts: { profile?: string }) => {
    const rows: string[] = [];
    let asked = false;
    const clusters = opts.profile === undefined ? listClusters() : listClusterIds(opts.profile).map((clusterId) => ({ profile: opts.profile!, clusterId }));
    for (const { profile, clusterId } of clusters) {
      const state = readState(profile, clusterId);
      if (!state) continue;
      const name = `${profile}\t${idColumn(clusterId)}`;
      if (!(await controllerRunning(state.controller))) {
        if (state.supervisor?.kind === "process" && isOurs(state.supervisor)) {
          rows.push(`${name}\tcontroller down (was ${describeController(state.controller).slice("controller ".length)}): its supervisor is restarting it\t\tsupervisor ${supervisorColumn(state)}`);
          continue;
        }
        rows.push(`${name}\tstale (${describeController(state.controller)} is gone)`);
        continue;
      }
      let engines = `${state.engines.filter(isOurs).length} engine processes`;
      let hosts: string[] = [];
      try {
        asked = true;
        const client = await Client.connect({ connectionFile: state.clientFile, timeout: 2000, activate: false });
        const snapshot = await client.status();
        client.close();
        engines = snapshot.engines.map((e) => `${e.id}:${e.state}(pid ${e.pid})`).join(" ") || "no engines";
        hosts = byHost(snapshot.engines);
      } catch (err) {
        engines += ` (controller not answering: ${(err as Error).message})`;
      }
      rows.push(`${name}\t${describeController(state.controller)}\t${engines}\tsupervisor ${supervisorColumn(state)}`, ...hosts);
    }
    console.log(rows.length ? `PROFILE\tCLUSTER ID\tCONTROLLER\tENGINES\tSUPERVISOR\n${rows.join("\n")}` : "no clusters running");
    // The closed clients' sockets (CURVE ones take longest) finish closing on ZeroMQ's threads: exiting
    // in the middle of that once aborted the process with a corrupted heap.
    if (asked) await sleep(200);
    process.exit(0);
  });

addLauncherOptions(program
  .command("engines")
  .description("manage the engines of a running cluster")
  .command("add")
  .argument("<count>", "engines to add", positiveInt)
  .option("--profile <name>", "profile", "default")
  .option("--cluster-id <id>", CLUSTER_ID_HELP, clusterIdArg, ""))
  .action(async (count: number, opts: { profile: string; clusterId: string } & LauncherCliOptions) => {
    // Without --engines, the launcher the profile's cluster-config.json names (else local).
    const cluster = Cluster.fromProfile(opts.profile, { clusterId: opts.clusterId, engines: launcherSpec(opts) ?? readClusterConfig(opts.profile)?.engines });
    const ids = await cluster.addEngines(count);
    console.log(`added engines ${ids.join(", ")} to ${opts.clusterId ? `cluster "${opts.clusterId}" of ` : ""}profile "${opts.profile}"`);
    cluster.detach();
    process.exit(0);
  });

program.parseAsync().catch((err: Error) => {
  console.error(`tspcluster: ${err.message}`);
  process.exit(1);
});
