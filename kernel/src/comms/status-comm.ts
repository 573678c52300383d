import { Client, type ClusterSnapshot, type TaskStreamItem } from "tsparallel";
import type { Logger } from "@tsparallel/protocol";
import type { ClusterHolder } from "../magics/cluster-holder.js";
import type { Comm, CommManager } from "./comm-manager.js";

export const STATUS_TARGET = "tsparallel.status";
/** At most one snapshot and one task batch per period: <= 4 messages a second. */
const FLUSH_MS = 500;
/** How often the comm looks for a newly activated client. */
const CLIENT_POLL_MS = 500;

type Action = "start" | "add_engines" | "stop_engine" | "interrupt_engine" | "restart_engine" | "stop_cluster";

interface ActionRequest {
  type: "action";
  id: unknown;
  action: Action;
  n?: number;
  engineId?: number;
}

function positive(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : fallback;
}

/** What a panel action does, on the active client and the cluster this kernel holds. */
async function perform(request: ActionRequest, clusters: ClusterHolder): Promise<string> {
  const client = (): Client => {
    const active = clusters.activeClient();
    if (!active) throw new Error("no active client: start a cluster or connect one first");
    return active;
  };
  const cluster = () => clusters.cluster ?? clusters.attach(client().profile);
  const engineId = (): number => {
    if (typeof request.engineId !== "number" || !Number.isInteger(request.engineId)) throw new Error("the action needs an engineId");
    return request.engineId;
  };
  switch (request.action) {
    case "start": {
      const rc = await clusters.start(positive(request.n, 2));
      return `started a cluster with ${rc.ids.length} engines`;
    }
    case "add_engines": {
      const ids = await cluster().addEngines(positive(request.n, 1));
      return `added engines ${ids.join(", ")}`;
    }
    case "stop_engine": {
      const stopped = await client().stopEngines([engineId()]);
      return stopped.length ? `stopped engine ${stopped.join(", ")}` : `engine ${engineId()} was not running`;
    }
    case "interrupt_engine": {
      const interrupted = await client().interrupt([engineId()]);
      return interrupted.length ? `interrupted engine ${interrupted.join(", ")}` : `engine ${engineId()} was not running`;
    }
    case "restart_engine": {
      const id = engineId();
      const target = cluster();
      await client().stopEngines([id]);
      const ids = await target.addEngines(1);
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

/**
 * The comm behind the JupyterLab cluster panel: a snapshot on open, then the active client's
 * cluster_snapshot and task_stream events, batched (nothing is sent while the cluster is idle);
 * and the panel's actions, each answered with an action_result.
 */
function openStatusComm(comm: Comm, clusters: ClusterHolder, log: Logger): void {
  let client: Client | undefined;
  let snapshot: ClusterSnapshot | null = null;
  let tasks: TaskStreamItem[] = [];
  const onSnapshot = (s: ClusterSnapshot) => void (snapshot = s);
  const onTasks = (content: { tasks: TaskStreamItem[] }) => void tasks.push(...content.tasks);
  const follow = (next: Client | undefined) => {
    if (next === client) return;
    client?.events.off("cluster_snapshot", onSnapshot);
    client?.events.off("task_stream", onTasks);
    client = next;
    // Whatever the old client had queued describes a cluster the panel no longer shows.
    snapshot = null;
    tasks = [];
    client?.events.on("cluster_snapshot", onSnapshot);
    client?.events.on("task_stream", onTasks);
    // A new client (or none): the panel gets its state at once.
    void sendInitial();
  };
  const sendInitial = async () => {
    const current = client;
    let initial: ClusterSnapshot | null = null;
    try {
      initial = current ? await current.status() : null;
    } catch (err) {
      log.warn(`status comm: cannot read the cluster status: ${(err as Error).message}`);
    }
    if (current === client) comm.send({ type: "snapshot", snapshot: initial, profile: current?.profile ?? clusters.cluster?.profile ?? "default" });
  };
  const flush = () => {
    follow(clusters.activeClient());
    if (snapshot) {
      comm.send({ type: "snapshot", snapshot });
      snapshot = null;
    }
    if (tasks.length) {
      comm.send({ type: "task_stream", tasks });
      tasks = [];
    }
  };
  const timer = setInterval(flush, Math.min(FLUSH_MS, CLIENT_POLL_MS));
  timer.unref();
  comm.onMessage((data) => {
    if (data.type !== "action") return;
    const request = data as unknown as ActionRequest;
    perform(request, clusters).then(
      (message) => comm.send({ type: "action_result", id: request.id, ok: true, message }),
      (err: Error) => comm.send({ type: "action_result", id: request.id, ok: false, message: err.message }),
    );
  });
  comm.onClose(() => {
    clearInterval(timer);
    follow(undefined);
  });
  client = clusters.activeClient();
  client?.events.on("cluster_snapshot", onSnapshot);
  client?.events.on("task_stream", onTasks);
  void sendInitial();
}

export function registerStatusComm(comms: CommManager, clusters: ClusterHolder, log: Logger): void {
  comms.registerTarget(STATUS_TARGET, (comm) => openStatusComm(comm, clusters, log));
}
