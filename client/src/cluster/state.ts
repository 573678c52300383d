import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { baseDir, profileDir, securityDir, validateClusterId, writeJsonPrivate } from "@tsparallel/protocol";
import type { LaunchedJob, LaunchedProcess } from "./launcher.js";
import type { RecordedProcess } from "./process-identity.js";

/**
 * The process that restarts crashed members of a cluster. "process": a dedicated supervisor process
 * (tspcluster start --daemonize), signalled by `tspcluster stop`; "in-process": the process that started
 * the cluster (foreground tspcluster start, Cluster.start({ supervise: true })), never signalled by
 * others: it reads `stopping` in this file instead.
 */
export interface SupervisorRecord extends RecordedProcess {
  kind: "process" | "in-process";
  logFile: string;
  /** Restarts done so far (every one is logged in logFile). */
  restarts: number;
  /** The supervisor process's control socket (engines add goes through it). */
  socket?: string;
}

/** What `tspcluster` remembers of a running cluster: one per profile and cluster id. */
export interface ClusterState {
  profile: string;
  /** One of several clusters in the profile; absent: the profile's own. */
  clusterId?: string;
  controller: LaunchedProcess;
  engines: LaunchedProcess[];
  /** Batch jobs running engines (slurm, batch launchers). */
  jobs?: LaunchedJob[];
  clientFile: string;
  engineFile: string;
  daemon: boolean;
  started: string;
  supervisor?: SupervisorRecord;
  /** Set by whoever stops the cluster, first: no supervisor restarts anything once it is set. */
  stopping?: boolean;
}

/** `cluster.json`, or `cluster-<id>.json` for a cluster id (ipyparallel keeps one file per cluster id too). */
export function stateFile(profile: string, clusterId = ""): string {
  return join(securityDir(profile), validateClusterId(clusterId) ? `cluster-${clusterId}.json` : "cluster.json");
}

export function readState(profile: string, clusterId = ""): ClusterState | undefined {
  const file = stateFile(profile, clusterId);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

export function writeState(state: ClusterState): void {
  writeJsonPrivate(stateFile(state.profile, state.clusterId), state);
}

export function removeState(profile: string, clusterId = ""): void {
  rmSync(stateFile(profile, clusterId), { force: true });
}

/** Whether a pid exists at all (whoever it belongs to): for waiting, never for deciding what to signal. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A cluster named by its profile and cluster id ("" for the profile's own). */
export interface ClusterRef {
  profile: string;
  clusterId: string;
}

/** The state file's name of a cluster id: "cluster.json" -> "", "cluster-<id>.json" -> id; undefined for any other name. */
function clusterIdOf(fileName: string): string | undefined {
  if (fileName === "cluster.json") return "";
  const match = /^cluster-(.+)\.json$/.exec(fileName);
  if (!match) return undefined;
  try {
    return validateClusterId(match[1]!);
  } catch {
    // Not a name we write: someone else's file.
    return undefined;
  }
}

/** The cluster ids with a state file in a profile: "" (its own cluster) first, then the others in order. Creates nothing. */
export function listClusterIds(profile: string): string[] {
  const dir = join(profileDir(profile), "security");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map(clusterIdOf)
    .filter((id): id is string => id !== undefined)
    .sort();
}

/** Profiles that have a cluster state file (of their own cluster or of a cluster id). */
export function listProfiles(): string[] {
  const root = baseDir();
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => name.startsWith("profile_"))
    .map((name) => name.slice("profile_".length))
    .sort()
    .filter((profile) => {
      try {
        return listClusterIds(profile).length > 0;
      } catch {
        // A directory whose name is not a valid profile: not ours.
        return false;
      }
    });
}

/** Every cluster with a state file: by profile, then cluster id (the profile's own first). */
export function listClusters(): ClusterRef[] {
  return listProfiles().flatMap((profile) => listClusterIds(profile).map((clusterId) => ({ profile, clusterId })));
}
