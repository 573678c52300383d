import { Client, Cluster, type ClusterRef } from "tsparallel";
import type { ClusterHolder } from "../magics/cluster-holder.js";

export type Action = "start" | "connect" | "reconnect" | "add_engines" | "stop_engine" | "interrupt_engine" | "restart_engine" | "stop_cluster";

export interface ActionRequest {
  type: "action";
  id: unknown;
  action: Action;
  n?: number;
  engineId?: number;
  profile?: string;
  /** With `profile`: which of the profile's clusters ("" or absent: the profile's own). */
  clusterId?: string;
}

/** Engines one panel action may start; TSPARALLEL_PANEL_MAX_ENGINES changes it. */
export const DEFAULT_PANEL_MAX_ENGINES = 64;

export function panelMaxEngines(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TSPARALLEL_PANEL_MAX_ENGINES;
  if (raw === undefined || raw === "") return DEFAULT_PANEL_MAX_ENGINES;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`TSPARALLEL_PANEL_MAX_ENGINES must be a positive integer, not ${JSON.stringify(raw)}`);
  return value;
}

/**
 * The number of engines an action asks for: absent means the default; anything but a whole number from
 * 1 to the bound is refused before anything starts (the frontend is not trusted to have checked).
 */
function engineCount(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const max = panelMaxEngines();
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`n must be a whole number of engines from 1 to ${max} (TSPARALLEL_PANEL_MAX_ENGINES), not ${JSON.stringify(value)}`);
  }
  return value;
}

/** The running clusters (profile and cluster id), for the panel's Connect buttons; never throws. */
export function runningClusters(): ClusterRef[] {
  try {
    return Cluster.runningClusters();
  } catch {
    return [];
  }
}

/** The cluster an action names: its profile ("default" if none) and cluster id ("" if none). */
function namedCluster(request: ActionRequest, fallback: ClusterRef): ClusterRef {
  const named = typeof request.profile === "string" && request.profile !== "";
  return {
    profile: named ? request.profile! : fallback.profile,
    clusterId: named ? (typeof request.clusterId === "string" ? request.clusterId : "") : fallback.clusterId,
  };
}

function describe({ profile, clusterId }: ClusterRef): string {
  return clusterId ? `cluster "${clusterId}" of profile ${profile}` : `the cluster of profile ${profile}`;
}

/**
 * Grows a cluster: the one this kernel started, or else the running cluster of the client's profile,
 * attached only for this call. The kernel's ClusterHolder is left alone, so a kernel restart or
 * shutdown never stops a cluster this kernel did not start.
 */
async function addEngines(clusters: ClusterHolder, client: Client, n: number): Promise<number[]> {
  if (clusters.cluster && clusters.cluster.profile === client.profile) return clusters.cluster.addEngines(n);
  const borrowed = Cluster.fromProfile(client.profile);
  try {
    return await borrowed.addEngines(n);
  } finally {
    borrowed.detach();
  }
}

/** How long Reconnect waits for a profile's controller to be back (a supervisor restart, a `tspcluster start`). */
const RECONNECT_WAIT_MS = 90_000;
const RECONNECT_POLL_MS = 1_000;

/**
 * Connects a new client to the profile's controller once one answers there, and makes it the active
 * client; the lost one is closed (its sockets and timers go). Tries until RECONNECT_WAIT_MS: a controller
 * restarted by its supervisor, or a cluster started again, takes a few seconds to come back.
 */
async function reconnect(clusters: ClusterHolder, { profile, clusterId }: ClusterRef): Promise<Client> {
  const lost = clusters.activeClient();
  const deadline = Date.now() + RECONNECT_WAIT_MS;
  let why = clusterId ? `no cluster "${clusterId}" is running in profile ${profile}` : `no cluster is running in profile ${profile}`;
  for (;;) {
    if (runningClusters().some((c) => c.profile === profile && c.clusterId === clusterId)) {
      try {
        const rc = await Client.connect({ profile, clusterId, timeout: Math.max(1_000, Math.min(5_000, deadline - Date.now())) });
        if (lost && lost !== rc && lost.controllerLost) lost.close();
        return rc;
      } catch (err) {
        why = (err as Error).message;
      }
    }
    if (Date.now() + RECONNECT_POLL_MS > deadline) throw new Error(`the controller of profile ${profile} did not come back within ${RECONNECT_WAIT_MS / 1000} s: ${why}`);
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_POLL_MS));
  }
}

/** What a panel action does, on the active client and the cluster this kernel holds. */
export async function perform(request: ActionRequest, clusters: ClusterHolder): Promise<string> {
  const client = (): Client => {
    const active = clusters.activeClient();
    if (!active) throw new Error("no active client: start a cluster or connect one first");
    const lost = active.controllerLost;
    if (lost) throw new Error(`${lost}: connect to a running cluster or start one`);
    return active;
  };
  /** An engine id the cluster knows (alive, dead or stopped); any other is refused before anything is asked of it. */
  const knownEngine = async (rc: Client): Promise<number> => {
    const id = request.engineId;
    if (typeof id !== "number" || !Number.isInteger(id)) throw new Error("the action needs an engineId (a whole number)");
    const known = (await rc.status()).engines.map((e) => e.id);
    if (!known.includes(id)) throw new Error(`there is no engine ${id} in this cluster (engines: ${known.join(", ") || "none"})`);
    return id;
  };
  switch (request.action) {
    case "start": {
      const rc = await clusters.start(engineCount(request.n, 2));
      return `started a cluster with ${rc.ids.length} engines`;
    }
    case "connect": {
      const named = namedCluster(request, { profile: "default", clusterId: "" });
      const rc = await Client.connect(named);
      return `connected to ${describe(named)} (${rc.ids.length} engines)`;
    }
    case "reconnect": {
      const active = clusters.activeClient();
      const rc = await reconnect(clusters, namedCluster(request, { profile: active?.profile ?? "default", clusterId: active?.clusterId ?? "" }));
      const n = rc.ids.length;
      return `reconnected to the controller of profile ${rc.profile} at ${rc.url} (${n} engine${n === 1 ? "" : "s"} so far)`;
    }
    case "add_engines": {
      const n = engineCount(request.n, 1);
      const ids = await addEngines(clusters, client(), n);
      return `added engines ${ids.join(", ")}`;
    }
    case "stop_engine": {
      const rc = client();
      const id = await knownEngine(rc);
      const stopped = await rc.stopEngines([id]);
      return stopped.length ? `stopped engine ${stopped.join(", ")}` : `engine ${id} was not running`;
    }
    case "interrupt_engine": {
      const rc = client();
      const id = await knownEngine(rc);
      // Asked first, so the answer says whether there was anything to interrupt.
      const running = (await rc.status()).engines.find((e) => e.id === id)?.current;
      const interrupted = await rc.interrupt([id]);
      if (!interrupted.length) return `engine ${id} was not running`;
      return running ? `interrupted engine ${id} (its ${running.kind} task)` : `engine ${id} was idle: nothing to interrupt`;
    }
    case "restart_engine": {
      const rc = client();
      const id = await knownEngine(rc);
      await rc.stopEngines([id]);
      const ids = await addEngines(clusters, rc, 1);
      return `stopped engine ${id}, started engine ${ids.join(", ")}`;
    }
    case "stop_cluster": {
      const profile = await clusters.stop(clusters.cluster?.profile ?? clusters.activeClient()?.profile);
      return `stopped the cluster of profile ${profile}`;
    }
    default:
      throw new Error(`unknown action ${JSON.stringify(request.action)}`);
  }
}
