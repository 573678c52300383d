import { Client, Cluster } from "tsparallel";

/** How the magics name a cluster: `the cluster of profile P` or `cluster "id" of profile P`. */
export function describeCluster({ profile, clusterId }: { profile: string; clusterId: string }): string {
  return clusterId ? `cluster "${clusterId}" of profile ${profile}` : `the cluster of profile ${profile}`;
}

/**
 * The cluster this kernel started (with %tspcluster or the status panel), so it can be grown,
 * stopped, and stopped with the kernel. Clients the notebook made itself are found through
 * Client.active.
 */
export class ClusterHolder {
  #cluster: Cluster | null = null;
  #client: Client | null = null;

  get cluster(): Cluster | null {
    return this.#cluster;
  }

  /** The client `%px` uses: the active one (the last connected or activated). */
  activeClient(): Client | undefined {
    return Client.active;
  }

  async start(n: number, profile?: string, clusterId?: string): Promise<Client> {
    if (this.#cluster) throw new Error(`this kernel already started ${describeCluster(this.#cluster)}: stop it first`);
    const cluster = await Cluster.start({ n, ...(profile ? { profile } : {}), ...(clusterId ? { clusterId } : {}) });
    this.#cluster = cluster;
    const client = await cluster.connect();
    this.#client = client;
    await client.waitForEngines(n, { timeout: 30_000 });
    client.activate();
    return client;
  }

  /** Attaches to a running (daemonized) cluster of a profile. */
  attach(profile: string): Cluster {
    this.#cluster = Cluster.fromProfile(profile);
    return this.#cluster;
  }

  /** Stops the cluster this kernel started, or the named one; says which it stopped. */
  async stop(profile?: string, clusterId?: string): Promise<string> {
    const held = this.#cluster;
    const isHeld = held !== null && (profile === undefined || held.profile === profile) && (clusterId === undefined || held.clusterId === clusterId);
    const cluster = isHeld ? held : Cluster.fromProfile(profile ?? "default", { clusterId: clusterId ?? "" });
    if (isHeld) {
      this.#client?.close();
      this.#client = null;
    }
    await cluster.stop();
    if (isHeld) this.#cluster = null;
    return describeCluster(cluster);
  }

  /** Kernel shutdown: a cluster this kernel started (not daemonized) goes with it. */
  async shutdown(): Promise<void> {
    if (!this.#cluster) return;
    try {
      await this.stop();
    } catch {
      // The kernel is exiting; the cluster's processes die with it anyway.
    }
  }
}
