/**
 * A Cluster in steps, as ipyparallel's test_cluster.py drives one: the controller alone, engines
 * started, stopped and restarted under it, the profile's cluster-config.json, launchers by short name,
 * and a ClusterManager. Real controller and engine processes in a private TSPARALLEL_DIR.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { profileDir } from "@tsparallel/protocol";
import {
  BatchEngineLauncher, Client, Cluster, ClusterConfigError, ClusterError, ClusterManager, createControllerLauncher, createEngineLauncher, LocalControllerLauncher,
  LocalEngineLauncher, MpiEngineLauncher, SlurmControllerLauncher, SlurmEngineLauncher, SshEngineLauncher,
} from "tsparallel";
import { eventually, isRunning, privateRoot } from "./support/cluster-fixture.js";
import { tspcluster } from "./support/tspcluster.js";

function writeConfig(profile: string, config: unknown): string {
  const dir = profileDir(profile);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "cluster-config.json");
  writeFileSync(file, typeof config === "string" ? config : JSON.stringify(config));
  return file;
}

const stateFile = (profile: string) => join(profileDir(profile), "security", "cluster.json");

describe("a cluster in steps", () => {
  test("the controller starts and stops alone: a second start is refused, a second stop does nothing [test_start_stop_controller]", { timeout: 90_000 }, async () => {
    privateRoot();
    const cluster = Cluster.create({ profile: "steps-controller" });
    try {
      assert.equal(cluster.started, false);
      assert.throws(() => cluster.controller, ClusterError);
      await cluster.startController();
      await assert.rejects(cluster.startController(), (err: Error) => err instanceof ClusterError && /already started/.test(err.message));
      assert.ok(cluster.options, "the cluster's options (its config) are there");
      const pid = cluster.controller.pid;
      assert.ok(isRunning(pid));
      assert.equal(cluster.engineCount, 0, "no engine is started with the controller alone");
      const client = await cluster.connect({ timeout: 10_000 });
      assert.deepEqual(await client.queueStatus(), { engines: {}, unassigned: 0 });
      await cluster.stopController();
      await eventually("the controller process to exit", () => !isRunning(pid));
      assert.equal(cluster.started, false);
      assert.throws(() => cluster.controller, /not started/);
      assert.ok(!existsSync(stateFile("steps-controller")), "its cluster.json is removed");
      await cluster.stopController();
    } finally {
      await cluster.stop();
    }
  });

  test("engines start and stop under a running controller, which keeps running [test_start_stop_engines]", { timeout: 90_000 }, async () => {
    privateRoot();
    const cluster = Cluster.create({ profile: "steps-engines" });
    try {
      await cluster.startController();
      const ids = await cluster.startEngines(2);
      assert.equal(ids.length, 2);
      const pids = cluster.engines.map((e) => e.pid);
      assert.equal(pids.length, 2);
      const client = await cluster.connect({ timeout: 10_000 });
      await client.waitForEngines(2, { timeout: 20_000 });
      await cluster.stopEngines();
      assert.deepEqual(cluster.engines, []);
      for (const pid of pids) assert.ok(!isRunning(pid), `engine process ${pid} is gone`);
      await eventually("the client to see no engine", () => client.ids.length === 0);
      assert.ok(isRunning(cluster.controller.pid), "the controller still runs");
      assert.deepEqual((await client.queueStatus()).unassigned, 0);
      await cluster.stopController();
    } finally {
      await cluster.stop();
    }
  });

  test("restartEngines stops the engines and starts as many new ones: new ids, new processes, the old ones gone [test_restart_engines]", { timeout: 120_000 }, async () => {
    privateRoot();
    const cluster = await Cluster.start({ profile: "steps-restart", n: 2, timeout: 30_000 });
    try {
      const client = await cluster.connect({ timeout: 10_000 });
      await client.waitForEngines(2, { timeout: 20_000 });
      const before = client.ids;
      const beforePids = await client.directView(before).apply(() => process.pid);
      const after = await cluster.restartEngines();
      assert.equal(after.length, 2);
      assert.ok(after.every((id) => !before.includes(id)), `new engine ids ${after} differ from ${before}`);
      await eventually("the old engines to leave the client's ids", () => before.every((id) => !client.ids.includes(id)));
      await client.waitForEngines(2, { timeout: 20_000 });
      const afterPids = await client.directView(after).apply(() => process.pid);
      assert.deepEqual(afterPids.filter((pid) => beforePids.includes(pid)), []);
      for (const pid of beforePids) assert.ok(!isRunning(pid), `old engine ${pid} is gone`);
      assert.equal(cluster.engineCount, 2);
    } finally {
      await cluster.stop();
    }
  });
});

describe("the profile's cluster-config.json", () => {
  test("gives the defaults of Cluster.create/start; options given win, key by key [test_load_profile]", { timeout: 90_000 }, async () => {
    privateRoot();
    writeConfig("cfg-api", { n: 5, controllerArgs: ["--scheme", "random"], timeout: 10_000, engines: "Local" });
    const made = Cluster.create({ profile: "cfg-api", n: 1, timeout: 20_000 });
    assert.deepEqual(made.options.controllerArgs, ["--scheme", "random"], "from the profile");
    assert.equal(made.options.timeout, 20_000, "given");
    assert.equal(made.options.n, 1, "given");
    assert.deepEqual(made.options.engines, { launcher: "local" });
    const cluster = await Cluster.start({ profile: "cfg-api", n: 1 });
    try {
      const client = await cluster.connect({ timeout: 10_000 });
      const snapshot = await client.status();
      assert.equal(snapshot.controller.scheme, "random", "the controller got the profile's arguments");
      assert.equal(cluster.engineCount, 1, "n given wins over the profile's 5");
    } finally {
      await cluster.stop();
    }
  });

  test("is read by tspcluster start --profile, the command line winning [test_load_profile]", { timeout: 120_000 }, async () => {
    privateRoot();
    writeConfig("cfg-cli", { n: 2, controllerArgs: ["--scheme", "lru"], supervise: false });
    const started = await tspcluster("start", "--profile", "cfg-cli", "--daemonize", "-n", "1");
    try {
      assert.equal(started.code, 0, started.stderr);
      assert.doesNotMatch(started.stdout, /supervised by/, "the profile turned supervision off");
      const client = await Client.connect({ profile: "cfg-cli", timeout: 10_000, activate: false });
      try {
        await client.waitForEngines(1, { timeout: 20_000 });
        const snapshot = await client.status();
        assert.equal(snapshot.controller.scheme, "lru");
        assert.equal(snapshot.engines.filter((e) => e.state !== "dead" && e.state !== "stopped").length, 1, "-n 1 wins over the profile's n");
      } finally {
        client.close();
      }
    } finally {
      await tspcluster("stop", "--profile", "cfg-cli");
    }
  });

  test("a bad file is a clear error naming the file and the key, and nothing starts [test_load_profile]", { timeout: 60_000 }, async () => {
    privateRoot();
    const cases: [unknown, RegExp][] = [
      [{ engine: "mpi" }, /unknown key "engine" \(known here: .*engines/],
      [{ n: "5" }, /"n" must be a positive whole number, got "5"/],
      [{ engines: { launcher: "mpich" } }, /"engines": unknown engine launcher "mpich": expected one of local, ssh, mpi, slurm, batch, pbs, sge, lsf/],
      [{ engines: { launcher: "mpi", mpiArgs: "--oversubscribe" } }, /"engines.mpiArgs" must be an array of strings/],
      [{ controller: { launcher: "ssh", hostname: "x" } }, /unknown key "controller.hostname" \(known here: launcher, host/],
      ["{ n: 2 ", /cannot be read as JSON/],
    ];
    for (const [i, [config, message]] of cases.entries()) {
      const file = writeConfig(`cfg-bad${i}`, config);
      // A cluster that starts anyway is stopped before the assertion fails.
      const err = await Cluster.start({ profile: `cfg-bad${i}`, n: 1 }).then(async (started) => started.stop(), (failed: Error) => failed);
      assert.ok(err instanceof ClusterConfigError, `a ClusterConfigError, got ${err instanceof Error ? `${err.name}: ${err.message}` : "a running cluster"}`);
      assert.match(err.message, message);
      assert.ok(err.message.startsWith(file), `names the file: ${err.message}`);
      assert.ok(!existsSync(stateFile(`cfg-bad${i}`)), "no cluster was started");
    }
    const cli = await tspcluster("start", "--profile", "cfg-bad0", "--daemonize", "-n", "1");
    if (cli.code === 0) await tspcluster("stop", "--profile", "cfg-bad0");
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /tspcluster: .*cluster-config\.json: unknown key "engine"/);
  });
});

describe("launchers by short name", () => {
  test("any case, everywhere a launcher is taken; an unknown name lists the known ones [test_cluster_abbreviations]", async () => {
    privateRoot();
    assert.ok(createEngineLauncher("MPI") instanceof MpiEngineLauncher);
    assert.ok(createEngineLauncher("Slurm") instanceof SlurmEngineLauncher);
    assert.ok(createEngineLauncher({ launcher: "LOCAL" }) instanceof LocalEngineLauncher);
    assert.ok(createEngineLauncher({ launcher: "SSH", hosts: "hostA:2" }) instanceof SshEngineLauncher);
    const sge = createEngineLauncher({ launcher: "SGE", template: "#!/bin/sh\n{engine_command}\n" });
    assert.ok(sge instanceof BatchEngineLauncher);
    assert.equal(sge.name, "sge", "SGE's commands without an #$ directive in the template");
    assert.ok(createControllerLauncher("SLURM") instanceof SlurmControllerLauncher);
    assert.ok(createControllerLauncher({ launcher: "Local" }) instanceof LocalControllerLauncher);
    assert.deepEqual(Cluster.create({ profile: "names", engines: "Mpi" }).options.engines, { launcher: "mpi" });
    assert.throws(() => createEngineLauncher("mpich" as never), /unknown engine launcher "mpich": expected one of local, ssh, mpi, slurm, batch, pbs, sge, lsf/);
    assert.throws(() => createControllerLauncher({ launcher: "pbs" } as never), /unknown controller launcher "pbs": expected one of local, ssh, slurm/);
    assert.throws(() => Cluster.create({ profile: "names", engines: "condor" as never }), /unknown engine launcher "condor"/);
    // The command line takes the same names (this profile has no cluster, so the names parse and the command fails after).
    const upper = await tspcluster("engines", "add", "1", "--profile", "names", "--engines", "LOCAL");
    assert.equal(upper.code, 1);
    assert.match(upper.stderr, /no cluster is running in profile "names"/);
    const unknown = await tspcluster("start", "--profile", "names", "--engines", "Condor");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown engine launcher "Condor": expected one of local, ssh, mpi, slurm, batch, pbs, sge, lsf/);
    const controller = await tspcluster("start", "--profile", "names", "--controller", "Slurmd");
    assert.match(controller.stderr, /unknown controller launcher "Slurmd": expected one of local, ssh, slurm/);
  });
});

describe("ClusterManager", () => {
  test("makes, gets, starts, loads and removes clusters by key; a stopped one is dropped on the next load [test_cluster_manager, test_cluster_manager_notice_stop]", { timeout: 90_000 }, async () => {
    privateRoot();
    const manager = new ClusterManager();
    assert.equal(manager.clusters.size, 0);
    const { key, cluster } = manager.newCluster({ profile: "managed", n: 1, engines: "Local" });
    assert.equal(key, "managed");
    assert.equal(ClusterManager.keyOf(cluster), key);
    assert.equal(cluster.profile, "managed");
    assert.equal(manager.getCluster(key), cluster);
    assert.throws(() => manager.getCluster("nosuchcluster"), (err: Error) => err instanceof ClusterError && /no cluster "nosuchcluster".*known: managed/.test(err.message));
    assert.throws(() => manager.newCluster({ profile: "managed" }), /already managed/);
    assert.deepEqual([...manager.clusters.keys()], [key]);
    const other = new ClusterManager();
    try {
      manager.loadClusters();
      assert.equal(manager.getCluster(key), cluster, "a cluster not started yet stays");
      assert.ok(!other.loadClusters().has(key), "nothing runs in the profile yet");
      await manager.startCluster(key);
      assert.ok(cluster.running);
      const loaded = other.loadClusters().get(key);
      assert.ok(loaded, "another manager finds the running cluster in its profile");
      assert.equal(loaded.controller.pid, cluster.controller.pid);
      manager.removeCluster(key);
      assert.equal(manager.clusters.size, 0);
      assert.ok(cluster.running, "removing a cluster does not stop it");
      assert.throws(() => manager.removeCluster("nosuchcluster"), /no cluster "nosuchcluster"/);
      await other.stopCluster(key);
      assert.ok(!other.loadClusters().has(key), "a stopped cluster is dropped");
      assert.ok(!cluster.running);
    } finally {
      await cluster.stop();
    }
  });
  test("finds the clusters with ids too, keyed profile:clusterId, and stops one of them alone [test_cluster_manager, test_cluster_id]", { timeout: 90_000 }, async () => {
    privateRoot();
    const profile = "managed-ids";
    const started: Cluster[] = [];
    try {
      // Controllers alone (n: 0): what is looked at is which clusters are found, not their engines.
      for (const clusterId of ["", "x"]) started.push(await Cluster.start({ profile, clusterId, n: 0, timeout: 60_000 }));
      const [own, x] = started as [Cluster, Cluster];
      assert.equal(ClusterManager.keyOf(own), profile);
      assert.equal(ClusterManager.keyOf(x), `${profile}:x`);
      assert.deepEqual(Cluster.runningClusters().filter((c) => c.profile === profile), [{ profile, clusterId: "" }, { profile, clusterId: "x" }]);
      assert.deepEqual(Cluster.running().filter((p) => p === profile), [profile], "running() names the profile once, for its own cluster");

      const manager = new ClusterManager();
      const loaded = manager.loadClusters({ profiles: [profile] });
      assert.deepEqual([...loaded.keys()], [profile, `${profile}:x`]);
      assert.equal(manager.getCluster(`${profile}:x`).controller.pid, x.controller.pid);
      assert.equal(manager.getCluster(`${profile}:x`).clusterId, "x");
      assert.equal(manager.getCluster(profile).controller.pid, own.controller.pid);
      assert.ok(new ClusterManager().loadClusters().has(`${profile}:x`), "found among all profiles too");
      assert.throws(() => manager.newCluster({ profile, clusterId: "x" }), (err: Error) => err instanceof ClusterError && /"managed-ids:x" is already managed/.test(err.message));
      const made = manager.newCluster({ profile, clusterId: "y", n: 0 });
      assert.equal(made.key, `${profile}:y`);
      manager.removeCluster(made.key);

      await manager.stopCluster(`${profile}:x`);
      await eventually("cluster x's controller to exit", () => !isRunning(x.controller.pid));
      assert.ok(isRunning(own.controller.pid), "the profile's own cluster keeps running");
      assert.deepEqual([...manager.loadClusters({ profiles: [profile] }).keys()], [profile], "the stopped one is dropped, the other stays");
    } finally {
      for (const cluster of started) await cluster.stop();
    }
  });
});
