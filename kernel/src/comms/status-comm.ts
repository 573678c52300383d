import { Client, type ClusterSnapshot, type TaskStreamItem } from "tsparallel";
import type { Logger } from "@tsparallel/protocol";
import type { ClusterHolder } from "../magics/cluster-holder.js";
import { engineLog, MAX_LOG_LINES } from "./engine-logs.js";
import { perform, runningClusters, type ActionRequest } from "./panel-actions.js";
import type { Comm, CommManager } from "./comm-manager.js";
import type { RecentCalls } from "./recent-calls.js";

export const STATUS_TARGET = "tsparallel.status";
/** At most one snapshot and one task batch per period: <= 4 messages a second. */
const FLUSH_MS = 500;
/**
 * The controller publishes a snapshot at least every 2 s; this long without one (or its announced
 * shutdown) and the panel is told the controller is lost. Generous: a loaded machine delays events.
 */
const LOST_AFTER_MS = 8_000;
/** How often the panel's list of running clusters (offered for Connect) is refreshed while it has none. */
const PROFILES_POLL_MS = 2_000;

/**
 * The comm behind the JupyterLab cluster panel: a snapshot on open, then the active client's
 * cluster_snapshot and task_stream events, batched (nothing is sent while the cluster is idle); a
 * `controller_lost` message when the controller shut down or went silent; the running profiles
 * while there is no cluster; the progress of the kernel's recent calls when it moved (`calls`); and
 * the panel's actions, each answered with an action_result; and an engine's recent log lines on request
 * (`engine_log`, answered with the same id).
 */
function openStatusComm(comm: Comm, clusters: ClusterHolder, calls: RecentCalls, log: Logger): void {
  let callsSent = "";
  let callsVersion = -1;
  let callsRunning: Set<string> | null = null;
  /** The tasks the engines run now, from the latest snapshot: which calls have tasks running. */
  let runningIds = new Set<string>();
  let client: Client | undefined;
  let snapshot: ClusterSnapshot | null = null;
  let tasks: TaskStreamItem[] = [];
  let heardAt = Date.now();
  let lost = false;
  let profilesSent = "";
  let profilesCheckedAt = 0;
  const onSnapshot = (s: ClusterSnapshot) => {
    snapshot = s;
    runningIds = new Set(s.engines.flatMap((e) => (e.current && e.state !== "dead" && e.state !== "stopped" ? [e.current.msgId] : [])));
    heardAt = Date.now();
  };
  const onTasks = (content: { tasks: TaskStreamItem[] }) => {
    for (const task of content.tasks) tasks.push(task);
    // Bounded: the panel keeps only recent tasks anyway.
    if (tasks.length > 5000) tasks = tasks.slice(-2500);
  };
  const follow = (next: Client | undefined) => {
    if (next === client) return;
    client?.events.off("cluster_snapshot", onSnapshot);
    client?.events.off("task_stream", onTasks);
    client = next;
    // Whatever the old client had queued describes a cluster the panel no longer shows.
    snapshot = null;
    tasks = [];
    lost = false;
    heardAt = Date.now();
    client?.events.on("cluster_snapshot", onSnapshot);
    client?.events.on("task_stream", onTasks);
    // A new client (or none): the panel gets its state at once.
    void sendInitial();
  };
  const profileMessage = () => {
    const running = runningClusters();
    profilesSent = JSON.stringify(running);
    profilesCheckedAt = Date.now();
    return running;
  };
  const sendInitial = async () => {
    const current = client;
    let initial: ClusterSnapshot | null = null;
    let failure = "";
    try {
      initial = current ? await current.status() : null;
      heardAt = Date.now();
    } catch (err) {
      failure = (err as Error).message;
      log.warn(`status comm: cannot read the cluster status: ${failure}`);
    }
    if (current !== client) return;
    const profile = current?.profile ?? clusters.cluster?.profile ?? "default";
    if (current && !initial) {
      lost = true;
      comm.send({ type: "controller_lost", profile, reason: current.controllerLost ?? failure, running: profileMessage() });
    } else comm.send({ type: "snapshot", snapshot: initial, profile, running: profileMessage() });
  };
  /** `fresh`: re-read the running profiles now (an action may have started or stopped one). */
  const flush = (fresh = false) => {
    follow(clusters.activeClient());
    if (calls.version !== callsVersion || runningIds !== callsRunning) {
      callsVersion = calls.version;
      callsRunning = runningIds;
      const list = calls.list(runningIds);
      const text = JSON.stringify(list);
      if (text !== callsSent) comm.send({ type: "calls", calls: list });
      callsSent = text;
    }
    const now = Date.now();
    if (fresh) profilesCheckedAt = 0;
    if (client) {
      const reason = client.controllerLost ?? (now - heardAt > LOST_AFTER_MS ? `no word from the controller at ${client.url} for ${Math.round((now - heardAt) / 1000)} s` : null);
      if (reason && !snapshot) {
        if (!lost || now - profilesCheckedAt > PROFILES_POLL_MS) {
          const before = profilesSent;
          const running = profileMessage();
          if (!lost || profilesSent !== before) comm.send({ type: "controller_lost", profile: client.profile, reason, running });
        }
        lost = true;
        return;
      }
      lost = false;
    } else if (now - profilesCheckedAt > PROFILES_POLL_MS) {
      const before = profilesSent;
      const running = profileMessage();
      if (JSON.stringify(running) !== before) comm.send({ type: "snapshot", snapshot: null, profile: clusters.cluster?.profile ?? "default", running });
    }
    if (snapshot) {
      comm.send({ type: "snapshot", snapshot });
      snapshot = null;
    }
    if (tasks.length) {
      comm.send({ type: "task_stream", tasks });
      tasks = [];
    }
  };
  const timer = setInterval(() => flush(), FLUSH_MS);
  timer.unref();
  comm.onMessage((data) => {
    if (data.type === "engine_log") {
      const engineId = data.engineId;
      if (typeof data.id !== "string" || typeof engineId !== "number" || !Number.isInteger(engineId)) return;
      const lines = typeof data.lines === "number" && Number.isInteger(data.lines) && data.lines > 0 ? Math.min(data.lines, MAX_LOG_LINES) : MAX_LOG_LINES;
      const active = clusters.activeClient();
      const reply = active
        ? engineLog(active, engineId, lines)
        : { engineId, source: "", lines: [], note: "no active client: connect to a cluster or start one" };
      comm.send({ type: "engine_log", id: data.id, ...reply });
      return;
    }
    if (data.type !== "action") return;
    const request = data as unknown as ActionRequest;
    perform(request, clusters).then(
      (message) => {
        comm.send({ type: "action_result", id: request.id, ok: true, message });
        // What the action changed (a cluster started, stopped or connected) is shown at once.
        flush(true);
      },
      (err: Error) => comm.send({ type: "action_result", id: request.id, ok: false, message: err.message }),
    );
  });
  comm.onClose(() => {
    clearInterval(timer);
    follow(undefined);
  });
  follow(clusters.activeClient());
  if (!client) void sendInitial();
}

export function registerStatusComm(comms: CommManager, clusters: ClusterHolder, calls: RecentCalls, log: Logger): void {
  comms.registerTarget(STATUS_TARGET, (comm) => openStatusComm(comm, clusters, calls, log));
}
