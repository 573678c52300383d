/**
 * Engines started without a shared file system, as the ssh/MPI/batch launchers start them: the connection
 * info on standard input or in $TSPARALLEL_CONNECTION_INFO, launch metadata from `--tag` and the MPI
 * environment, seen by clients (`EngineInfo.metadata`) and by code on the engine (`tspengine`).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Cluster } from "tsparallel";
import { privateRoot } from "./support/cluster-fixture.js";
import { bins } from "./support/paths.js";

function engine(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string } = {}) {
  const child = spawn(process.execPath, [bins.engine, ...args], { env: { ...process.env, ...options.env }, stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.end(options.stdin ?? "");
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

describe("tspengine --connection-info and --tag", () => {
  const started: ReturnType<typeof engine>[] = [];
  after(() => {
    for (const e of started) if (e.child.exitCode === null) e.child.kill("SIGKILL");
  });

  test("bad connection info on standard input or in the environment: exit 1 with a clear error", async () => {
    const fromStdin = engine(["--connection-info", "-"], { stdin: "{ not json" });
    started.push(fromStdin);
    assert.equal(await fromStdin.exited, 1);
    assert.match(fromStdin.stderr(), /the connection info on standard input is corrupt/);

    const wrongKind = engine([], { env: { TSPARALLEL_CONNECTION_INFO: JSON.stringify({ kind: "client", transport: "tcp", ip: "x", location: "x", key: "k", ports: {}, signature_scheme: "hmac-sha256" }) } });
    started.push(wrongKind);
    assert.equal(await wrongKind.exited, 1);
    assert.match(wrongKind.stderr(), /\$TSPARALLEL_CONNECTION_INFO is for clients, not engines/);

    const unset = engine(["--connection-info", "env"], { env: { TSPARALLEL_CONNECTION_INFO: "" } });
    started.push(unset);
    assert.equal(await unset.exited, 1);
    assert.match(unset.stderr(), /--connection-info env: \$TSPARALLEL_CONNECTION_INFO is not set/);

    const badTag = engine(["--tag", "novalue", "--connection-info", "-"], { stdin: "{}" });
    started.push(badTag);
    assert.equal(await badTag.exited, 1);
    assert.match(badTag.stderr(), /--tag expects key=value, got "novalue"/);
  });

  test("info from stdin and from the environment registers; tags and the MPI rank reach clients and tspengine", { timeout: 60_000 }, async () => {
    privateRoot();
    const cluster = await Cluster.start({ profile: "conninfo", n: 1 });
    try {
      const info = readFileSync(join(privateRoot(), "profile_conninfo", "security", "tspcontroller-engine.json"), "utf8");
      const viaStdin = engine(["--connection-info", "-", "--tag", "launcher=manual", "--tag", "site=lab"], { stdin: info });
      const viaEnv = engine(["--tag", "launcher=manual"], { env: { TSPARALLEL_CONNECTION_INFO: info, OMPI_COMM_WORLD_RANK: "3", OMPI_COMM_WORLD_SIZE: "4" } });
      started.push(viaStdin, viaEnv);
      const client = await cluster.connect({ activate: false });
      try {
        await client.waitForEngines(3, { timeout: 30_000 });
        const byPid = new Map(client.engines.map((e) => [e.pid, e]));
        assert.deepEqual(byPid.get(viaStdin.child.pid!)?.metadata, { launcher: "manual", site: "lab" });
        assert.deepEqual(byPid.get(viaEnv.child.pid!)?.metadata, { launcher: "manual", rank: 3, size: 4 });
        // The local launcher's engine tells nothing: no metadata at all.
        assert.equal(client.engines.find((e) => e.pid === cluster.engines[0]!.pid)?.metadata, undefined);
        const seen = await client.directView().apply(() => {
          const g = (globalThis as unknown as { tspengine: { id: number; rank?: number; metadata: object } }).tspengine;
          return { pid: process.pid, id: g.id, rank: g.rank, metadata: g.metadata, leaked: process.env.TSPARALLEL_CONNECTION_INFO ?? null };
        });
        const fromEnv = seen.find((s) => s.pid === viaEnv.child.pid)!;
        assert.equal(fromEnv.rank, 3);
        assert.equal(fromEnv.leaked, null, "the key does not stay in the engine's environment");
        for (const s of seen) assert.equal(s.id, client.engines.find((e) => e.pid === s.pid)!.id);
      } finally {
        client.close();
      }
    } finally {
      await cluster.stop();
    }
    // The cluster's shutdown reaches the hand-started engines too: they end with code 0.
    assert.deepEqual(await Promise.all(started.slice(-2).map((e) => e.exited)), [0, 0]);
  });
});
