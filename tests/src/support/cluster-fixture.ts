import { rmSync } from "node:fs";
import { after, before } from "node:test";
import { Client, Cluster, type ClusterOptions } from "tsparallel";
import { identify } from "@tsparallel/protocol";
import { tempProfileRoot } from "./paths.js";

let root: string | undefined;

/**
 * Points TSPARALLEL_DIR at a private temp dir for this test process, once, before any cluster
 * starts: connection files and logs of the tests never touch ~/.tsparallel or each other.
 */
export function privateRoot(): string {
  if (root === undefined) {
    const made = tempProfileRoot();
    root = made.dir;
    process.env.TSPARALLEL_DIR = made.dir;
    // Left for the end of the process, so a failed test still leaves logs to read while it runs.
    process.once("exit", () => rmSync(made.dir, { recursive: true, force: true }));
  }
  return root;
}

export interface TestCluster {
  readonly cluster: Cluster;
  /** A client of the cluster, connected and waiting for all its engines. */
  readonly client: Client;
  /** Engine ids at start, ascending. */
  readonly ids: number[];
  stop(): Promise<void>;
}

let profiles = 0;

/** Starts a cluster (2 engines unless told) in its own profile, and a client of it. */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  privateRoot();
  const n = options.n ?? 2;
  // TSPARALLEL_TEST_CURVE=1 runs a test file's clusters with CURVE on every socket.
  const curve = process.env.TSPARALLEL_TEST_CURVE === "1" ? { curve: true } : {};
  const cluster = await Cluster.start({ profile: `test${profiles++}`, timeout: 30_000, ...curve, ...options, n });
  let client: Client;
  try {
    client = await cluster.connect({ timeout: 10_000 });
    await client.waitForEngines(n, { timeout: 20_000 });
    await firstBeats(client, client.ids);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  const ids = client.ids;
  return {
    cluster,
    client,
    ids,
    async stop() {
      client.close();
      await cluster.stop();
    },
  };
}

/**
 * One cluster for the tests of a file (or of a describe block, when called inside one): started by
 * before(), stopped by after(). Read it through the returned accessor once the tests run.
 */
export function sharedCluster(options: ClusterOptions = {}): () => TestCluster {
  let current: TestCluster | undefined;
  before(async () => {
    current = await startCluster(options);
  });
  after(async () => {
    await current?.stop();
    current = undefined;
  });
  return () => {
    if (!current) throw new Error("the shared cluster is not running (did before() fail?)");
    return current;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until check() is truthy; fails with `what` after timeoutMs. For waits on the cluster, never timing. */
export async function eventually<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Resolves once the controller has heard a heartbeat from each engine: until its first beat an engine
 * gets a long grace (engines starting by the dozen are slow to beat), so a test that stops or kills an
 * engine to see it declared dead must not do so before.
 */
export async function firstBeats(client: Client, engineIds: number[]): Promise<void> {
  const registered = new Map(client.engines.map((e) => [e.id, e.registered]));
  await eventually(`a first heartbeat from engines ${engineIds.join(", ")}`, async () => {
    const snapshot = await client.status();
    return engineIds.every((id) => {
      const beat = snapshot.engines.find((e) => e.id === id)?.lastHeartbeat;
      return beat !== undefined && beat > (registered.get(id) ?? Infinity);
    });
  });
}

/** Resolves once the controller reports a task running on each of the given engines. */
export async function waitUntilBusy(client: Client, engineIds: number[]): Promise<void> {
  await eventually(`engines ${engineIds.join(", ")} to be busy`, async () => {
    const snapshot = await client.status();
    return engineIds.every((id) => snapshot.engines.find((e) => e.id === id)?.current !== undefined);
  });
}

/**
 * True while a process runs. A zombie has exited: it only waits to be reaped, which an orphan's
 * parent (pid 1 here is not always a prompt reaper) may do late.
 */
export function isRunning(pid: number): boolean {
  return identify(pid) !== undefined;
}
