import { Client, Cluster } from "tsparallel";
import type { ClusterHolder } from "../magics/cluster-holder.js";

export type Action = "start" | "connect" | "add_engines" | "stop_engine" | "interrupt_engine" | "restart_engine" | "stop_cluster";

export interface ActionRequest {
  type: "action";
  id: unknown;
  action: Action;
  n?: number;
  engineId?: number;
  profile?: string;
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

/** Profiles with a running cluster, for the panel's Connect buttons; never throws. */
export function runningProfiles(): string[] {
  try {
    return Cluster.running().sort();
  } catch {
    return [];
  }
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
      const profile = typeof request.profile === "string" && request.profile ? request.profile : "default";
      const rc = await Client.connect({ profile });
      return `connected to the cluster of profile ${rc.profile} (${rc.ids.length} engines)`;
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
