import { Command, InvalidArgumentError } from "commander";
import { Client } from "../client.js";
import { Cluster } from "../cluster/cluster.js";
import { isAlive, listProfiles, readState, removeState } from "../cluster/state.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

const program = new Command("tspcluster").description("Start, stop and list tsparallel clusters (controller + engines)").showHelpAfterError();

program
  .command("start")
  .description("start a controller and n engines")
  .option("-n, --n <count>", "number of engines (default: CPU count)", positiveInt)
  .option("--profile <name>", "profile", "default")
  .option("--ip <address>", "address to bind", "127.0.0.1")
  .option("--location <host>", "address engines and clients connect to")
  .option("--daemonize", "return once ready and leave the cluster running", false)
  .option("--scheme <scheme>", "load-balancing scheme: leastload, lru, random, weighted")
  .option("--hwm <n>", "max outstanding tasks per engine for the load balancer (0: no limit)")
  .option("--heartbeat-period <ms>", "how often engines beat (default 1000)")
  .option("--heartbeat-misses <n>", "beats in a row an engine may miss before it is declared dead (default 15)")
  .action(async (opts: { n?: number; profile: string; ip: string; location?: string; daemonize: boolean; scheme?: string; hwm?: string; heartbeatPeriod?: string; heartbeatMisses?: string }) => {
    const controllerArgs = [...(opts.scheme ? ["--scheme", opts.scheme] : []), ...(opts.hwm !== undefined ? ["--hwm", opts.hwm] : [])];
    if (opts.heartbeatPeriod !== undefined) controllerArgs.push("--heartbeat-period", opts.heartbeatPeriod);
    if (opts.heartbeatMisses !== undefined) controllerArgs.push("--heartbeat-misses", opts.heartbeatMisses);
    const started = Date.now();
    const cluster = await Cluster.start({ n: opts.n, profile: opts.profile, ip: opts.ip, location: opts.location, daemonize: opts.daemonize, controllerArgs });
    console.log(`cluster ready in ${Date.now() - started} ms: profile "${cluster.profile}", controller pid ${cluster.controller.pid}, ${cluster.engines.length} engines (${cluster.engines.map((e) => e.pid).join(", ")})`);
    console.log(`connect with: await Client.connect(${cluster.profile === "default" ? "" : `{ profile: "${cluster.profile}" }`})`);
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
  });

program
  .command("stop")
  .description("stop the cluster of a profile")
  .option("--profile <name>", "profile", "default")
  .action(async (opts: { profile: string }) => {
    const state = readState(opts.profile);
    if (!state) {
      console.error(`no cluster is running in profile "${opts.profile}"`);
      process.exit(1);
    }
    if (!isAlive(state.controller.pid)) {
      removeState(opts.profile);
      console.log(`the cluster of profile "${opts.profile}" was already gone; cleaned up its state`);
      return;
    }
    await Cluster.fromProfile(opts.profile).stop();
    console.log(`stopped the cluster of profile "${opts.profile}"`);
    process.exit(0);
  });

program
  .command("list")
  .description("list running clusters and their engines")
  .action(async () => {
    const rows: string[] = [];
    for (const profile of listProfiles()) {
      const state = readState(profile);
      if (!state) continue;
      if (!isAlive(state.controller.pid)) {
        rows.push(`${profile}\tstale (controller pid ${state.controller.pid} is gone)`);
        continue;
      }
      let engines = `${state.engines.filter((e) => isAlive(e.pid)).length} engine processes`;
      try {
        const client = await Client.connect({ connectionFile: state.clientFile, timeout: 2000, activate: false });
        const snapshot = await client.status();
        client.close();
        engines = snapshot.engines.map((e) => `${e.id}:${e.state}(pid ${e.pid})`).join(" ") || "no engines";
      } catch (err) {
        engines += ` (controller not answering: ${(err as Error).message})`;
      }
      rows.push(`${profile}\tcontroller pid ${state.controller.pid}\t${engines}`);
    }
    console.log(rows.length ? `PROFILE\tCONTROLLER\tENGINES\n${rows.join("\n")}` : "no clusters running");
    process.exit(0);
  });

program
  .command("engines")
  .description("manage the engines of a running cluster")
  .command("add")
  .argument("<count>", "engines to add", positiveInt)
  .option("--profile <name>", "profile", "default")
  .action(async (count: number, opts: { profile: string }) => {
    const cluster = Cluster.fromProfile(opts.profile);
    const ids = await cluster.addEngines(count);
    console.log(`added engines ${ids.join(", ")} to profile "${opts.profile}"`);
    cluster.detach();
    process.exit(0);
  });

program.parseAsync().catch((err: Error) => {
  console.error(`tspcluster: ${err.message}`);
  process.exit(1);
});
