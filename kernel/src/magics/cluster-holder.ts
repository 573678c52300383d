import { Client, Cluster } from "tsparallel";

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

  async start(n: number, profile?: string): Promise<Client> {
    if (this.#cluster) throw new Error(`this kernel already started a cluster (profile ${this.#cluster.profile}): stop it first`);
    const cluster = await Cluster.start({ n, ...(profile ? { profile } : {}) });
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

  async stop(profile?: string): Promise<string> {
    const cluster = this.#cluster && (!profile || this.#cluster.profile === profile) ? this.#cluster : Cluster.fromProfile(profile ?? "default");
    this.#client?.close();
    this.#client = null;
    await cluster.stop();
    if (cluster === this.#cluster) this.#cluster = null;
    return cluster.profile;
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
