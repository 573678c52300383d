import { Client, Cluster, type ClusterSnapshot } from "tsparallel";
import type { CellOutcome } from "../execution/outcome.js";
import type { IOPub } from "../output/iopub.js";
import { parseFlags } from "./arguments.js";
import type { ClusterHolder } from "./cluster-holder.js";
import { UsageError } from "./usage-error.js";

interface ClusterFlags {
  n: number;
  profile: string;
}

const USAGE = "usage: %tspcluster start [-n N] [--profile P] | stop [--profile P] | status | connect [--profile P] | add N";

function count(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`%tspcluster: the number of engines must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

function statusTable(snapshot: ClusterSnapshot): string {
  const lines = [
    `profile ${snapshot.profile}: controller pid ${snapshot.controller.pid} on ${snapshot.controller.hostname}, scheme ${snapshot.controller.scheme}`,
    `tasks: ${snapshot.tasks.queued} queued, ${snapshot.tasks.running} running, ${snapshot.tasks.done - snapshot.tasks.failed} done, ${snapshot.tasks.failed} failed`,
    "engine  state    pid      queue  done  failed  cpu%   rss MiB",
  ];
  for (const e of snapshot.engines) {
    lines.push(
      `${String(e.id).padEnd(8)}${e.state.padEnd(9)}${String(e.pid).padEnd(9)}${String(e.queue).padEnd(7)}${String(e.completed - e.failed).padEnd(6)}` +
        `${String(e.failed).padEnd(8)}${e.cpu.toFixed(0).padEnd(7)}${(e.rss / 2 ** 20).toFixed(0)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** `%tspcluster start -n 4 | stop | status | connect | add N`: clusters from the notebook. */
export async function tspclusterMagic(line: string, clusters: ClusterHolder, iopub: IOPub): Promise<CellOutcome> {
  const { options, positional } = parseFlags<ClusterFlags>(
    line,
    [
      { names: ["-n", "--n"], key: "n", value: count, metavar: "engines" },
      { names: ["--profile"], key: "profile", value: (p) => p, metavar: "name" },
    ],
    "tspcluster",
  );
  const [command, ...rest] = positional;
  const say = (text: string) => iopub.stream("stdout", `${text}\n`);
  switch (command) {
    case "start": {
      const n = options.n ?? (rest[0] ? count(rest[0]) : 2);
      const profile = options.profile ?? "default";
      if (!clusters.cluster && Cluster.running().includes(profile)) {
        // `npm start` (or tspcluster start --daemonize) already runs one: the newcomer wants to use it.
        const client = await Client.connect({ profile });
        say(`A cluster is already running in profile ${profile}: connected to it (${client.ids.length} engines); its client is active for %px.`);
        break;
      }
      const client = await clusters.start(n, options.profile);
      say(`Started a cluster with ${client.ids.length} engines (profile ${clusters.cluster?.profile}); its client is active for %px.`);
      break;
    }
    case "stop": {
      const profile = await clusters.stop(options.profile);
      say(`Stopped the cluster of profile ${profile}.`);
      break;
    }
    case "connect": {
      const client = await Client.connect(options.profile ? { profile: options.profile } : {});
      say(`Connected to the cluster of profile ${client.profile} (${client.ids.length} engines); its client is active for %px.`);
      break;
    }
    case "add": {
      const cluster = clusters.cluster;
      if (!cluster) throw new UsageError("%tspcluster add: this kernel has not started a cluster (use %tspcluster start)");
      const ids = await cluster.addEngines(count(rest[0] ?? String(options.n ?? 1)));
      say(`Added engines ${ids.join(", ")}.`);
      break;
    }
    case "status": {
      const client = clusters.activeClient();
      if (!client) throw new UsageError("%tspcluster status: no active client; %tspcluster start or connect first");
      say(statusTable(await client.status()).trimEnd());
      break;
    }
    default:
      throw new UsageError(USAGE);
  }
  return { status: "ok", hasValue: false };
}
