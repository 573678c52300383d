import { Client, Cluster, type ClusterSnapshot } from "tsparallel";
import type { CellOutcome } from "../execution/outcome.js";
import type { IOPub } from "../output/iopub.js";
import { parseFlags } from "./arguments.js";
import { describeCluster, type ClusterHolder } from "./cluster-holder.js";
import { UsageError } from "./usage-error.js";

interface ClusterFlags {
  n: number;
  profile: string;
  clusterId: string;
}

export const TSPCLUSTER_USAGE =
  "%tspcluster start [-n N] [--profile P] [--cluster-id ID] | stop [--profile P] [--cluster-id ID] | connect [--profile P] [--cluster-id ID] | list | status | add N";
const USAGE = `usage: ${TSPCLUSTER_USAGE}`;

function count(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`%tspcluster: the number of engines must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

/** The running clusters, as `tspcluster list` names them (profile and cluster id). */
function clusterList(): string {
  const clusters = Cluster.runningClusters();
  if (clusters.length === 0) return "No cluster is running (start one with %tspcluster start -n 2).";
  return ["profile              cluster id", ...clusters.map((c) => `${c.profile.padEnd(21)}${c.clusterId || "''"}`)].join("\n");
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

/** `profile P`, or `profile P, cluster id "a"`. */
function shortName({ profile, clusterId }: { profile: string; clusterId: string }): string {
  return clusterId ? `profile ${profile}, cluster id "${clusterId}"` : `profile ${profile}`;
}

/** `%tspcluster start -n 4 | stop | status | connect | add N`: clusters from the notebook. */
export async function tspclusterMagic(line: string, clusters: ClusterHolder, iopub: IOPub): Promise<CellOutcome> {
  const { options, positional } = parseFlags<ClusterFlags>(
    line,
    [
      { names: ["-n", "--n"], key: "n", value: count, metavar: "engines" },
      { names: ["--profile"], key: "profile", value: (p) => p, metavar: "name" },
      { names: ["--cluster-id"], key: "clusterId", value: (id) => id, metavar: "id" },
    ],
    "tspcluster",
  );
  const [command, ...rest] = positional;
  const say = (text: string) => iopub.stream("stdout", `${text}\n`);
  switch (command) {
    case "start": {
      const n = options.n ?? (rest[0] ? count(rest[0]) : 2);
      const ref = { profile: options.profile ?? "default", clusterId: options.clusterId ?? "" };
      const running = Cluster.runningClusters().some((c) => c.profile === ref.profile && c.clusterId === ref.clusterId);
      if (!clusters.cluster && running) {
        // `npm start` (or tspcluster start --daemonize) already runs one: the newcomer wants to use it.
        const client = await Client.connect(ref);
        say(`A cluster is already running in ${shortName(ref)}: connected to it (${client.ids.length} engines); its client is active for %px.`);
        break;
      }
      const client = await clusters.start(n, options.profile, options.clusterId);
      say(`Started a cluster with ${client.ids.length} engines (${clusters.cluster ? shortName(clusters.cluster) : ""}); its client is active for %px.`);
      break;
    }
    case "stop": {
      const stopped = await clusters.stop(options.profile, options.clusterId);
      say(`Stopped ${stopped}.`);
      break;
    }
    case "connect": {
      const client = await Client.connect({ ...(options.profile ? { profile: options.profile } : {}), ...(options.clusterId ? { clusterId: options.clusterId } : {}) });
      say(`Connected to ${describeCluster({ profile: client.profile, clusterId: options.clusterId ?? "" })} (${client.ids.length} engines); its client is active for %px.`);
      break;
    }
    case "list": {
      say(clusterList());
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
