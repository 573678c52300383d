import { Cluster, ClusterError, type ClusterOptions } from "./cluster.js";
import { controllerMayRun } from "./controller-launchers.js";
import { listClusterIds, listProfiles, readState } from "./state.js";

/**
 * Clusters by key across profiles (ipyparallel's ClusterManager): the running ones found in the
 * profiles' state files (cluster.json, cluster-<id>.json), and new ones made here. A cluster's key is
 * its profile's name for the profile's own cluster, `profile:clusterId` for one with a cluster id
 * (ipyparallel's `profile:cluster_id`; a profile name has no ':', so keys never collide).
 */
export class ClusterManager {
  readonly #clusters = new Map<string, Cluster>();

  /** The clusters known, by key (load order, then creation order). */
  get clusters(): ReadonlyMap<string, Cluster> {
    return this.#clusters;
  }

  /** The key a cluster is known by. */
  static keyOf(cluster: Cluster): string {
    return clusterKey(cluster.profile, cluster.clusterId);
  }

  /**
   * Forgets the clusters whose controller is gone (not the ones made here and not started yet), then adds
   * every running cluster (cluster ids included) of each profile (all profiles, or the ones named) not
   * known yet.
   */
  loadClusters({ profiles }: { profiles?: string[] } = {}): ReadonlyMap<string, Cluster> {
    for (const [key, cluster] of this.#clusters) {
      if (cluster.started && !cluster.running) this.#clusters.delete(key);
    }
    for (const profile of profiles ?? listProfiles()) {
      for (const clusterId of listClusterIds(profile)) {
        const key = clusterKey(profile, clusterId);
        if (this.#clusters.has(key)) continue;
        const state = readState(profile, clusterId);
        if (state && controllerMayRun(state.controller)) this.#clusters.set(key, Cluster.fromProfile(profile, { clusterId }));
      }
    }
    return this.#clusters;
  }

  /** Makes a cluster (not started: see startCluster) from options and its profile's config; a ClusterError when its key is taken. */
  newCluster(options: ClusterOptions = {}): { key: string; cluster: Cluster } {
    const key = clusterKey(options.profile ?? "default", options.clusterId ?? "");
    if (this.#clusters.has(key)) throw new ClusterError(`a cluster "${key}" is already managed: remove it (removeCluster) or use another profile or cluster id`);
    const cluster = Cluster.create(options);
    this.#clusters.set(key, cluster);
    return { key, cluster };
  }

  /** The cluster of a key, or a ClusterError listing the keys known. */
  getCluster(key: string): Cluster {
    const cluster = this.#clusters.get(key);
    if (!cluster) throw new ClusterError(`no cluster "${key}" in this manager; known: ${[...this.#clusters.keys()].join(", ") || "none"}`);
    return cluster;
  }

  /** Starts a managed cluster's controller and engines. */
  async startCluster(key: string): Promise<Cluster> {
    const cluster = this.getCluster(key);
    await cluster.startCluster();
    return cluster;
  }

  /** Stops a managed cluster (it stays known until loadClusters sees it gone, or removeCluster). */
  async stopCluster(key: string): Promise<void> {
    await this.getCluster(key).stop();
  }

  /** Forgets a cluster (without stopping it, as ipyparallel's remove_cluster); a ClusterError for an unknown key. */
  removeCluster(key: string): void {
    this.getCluster(key);
    this.#clusters.delete(key);
  }
}

/** A managed cluster's key: "profile", or "profile:clusterId" for a cluster id. */
function clusterKey(profile: string, clusterId: string): string {
  return clusterId ? `${profile}:${clusterId}` : profile;
}
