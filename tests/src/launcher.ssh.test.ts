/**
 * The ssh engine launcher for real: three "hosts" (network namespaces on a bridge, a real sshd in each),
 * a controller on the bridge address, engines started over ssh with the connection info on ssh's standard
 * input. What each engine returns (its network addresses, its working directory) proves where it ran;
 * after `stop` no engine process is left in any namespace. Skipped (with the reason) unless root.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, Cluster, parseSshHosts } from "tsparallel";
import { isRunning, privateRoot } from "./support/cluster-fixture.js";
import { createNetnsHosts, netnsUnavailable, type NetnsHosts } from "./support/netns-hosts.js";
import { repoRoot } from "./support/paths.js";
import { tspcluster } from "./support/tspcluster.js";



/** Runs on each engine (after IMPORT_OS): its IPv4 addresses other than loopback, its working directory and what it was told. */
const IMPORT_OS = 'import { networkInterfaces } from "node:os"';
const whereAmI = () => {
  const networkInterfaces = (globalThis as unknown as { networkInterfaces: typeof import("node:os").networkInterfaces }).networkInterfaces;
  const addresses = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === "IPv4" && !a.internal).map((a) => a!.address);
  const engine = (globalThis as unknown as { tspengine: { id: number; metadata: Record<string, string | number> } }).tspengine;
  return { addresses, cwd: process.cwd(), host: engine.metadata.host, launcher: engine.metadata.launcher, pid: process.pid };
};

describe("--hosts parsing", () => {
  test("[user@]host[:port][:count], a single number being the count", () => {
    assert.deepEqual(parseSshHosts("hostA:4, me@hostB:2222:2,hostC"), [
      { target: "hostA", host: "hostA", port: undefined, engines: 4 },
      { target: "me@hostB", host: "hostB", port: 2222, engines: 2 },
      { target: "hostC", host: "hostC", port: undefined, engines: 1 },
    ]);
    assert.throws(() => parseSshHosts(" , "), /--hosts is empty/);
    assert.throws(() => parseSshHosts("hostA:0"), /engine count must be a positive integer/);
    assert.throws(() => parseSshHosts("hostA:70000:1"), /port 70000 is out of range/);
    assert.throws(() => parseSshHosts("a b:2"), /bad --hosts entry "a b:2"/);
  });

  test("tspcluster refuses --engines ssh without --hosts, before starting anything", async () => {
    const outcome = await tspcluster("start", "--engines", "ssh", "--profile", "nohosts", "--daemonize");
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /--engines ssh needs --hosts/);
  });
});

const skip = netnsUnavailable();

describe("ssh launcher across network-namespace hosts", { skip }, () => {
  let net: NetnsHosts;
  const target = (i: number, count: number, user = "") => `${user}${net.hosts[i]!.address}:${net.hosts[i]!.sshPort}:${count}`;

  before(async () => {
    privateRoot();
    net = await createNetnsHosts(3);
  });

  after(async () => {
    for (const profile of ["sshcli", "sshcode", "sshdead", "sshbad"]) await tspcluster("stop", "--profile", profile);
    net?.teardown();
  });

  const engineProcesses = () => net.hosts.map((h) => net.processesIn(h.ns, /tspengine/).length);

  test("tspcluster start --engines ssh, list per host, engines add on a third host, stop leaves nothing anywhere", { timeout: 180_000 }, async (t) => {
    t.after(() => tspcluster("stop", "--profile", "sshcli"));
    const sshArgs = net.sshArgs.join(" ");
    const start = await tspcluster(
      "start", "--profile", "sshcli", "--daemonize", "--engines", "ssh",
      "--hosts", `${target(0, 2, "root@")},${target(1, 1)}`,
      "--ssh-args", sshArgs, "--remote-node", process.execPath, "--remote-dir", "/tmp",
      "--location", net.bridgeAddress,
    );
    assert.equal(start.code, 0, start.stderr + start.stdout);
    assert.match(start.stdout, /profile "sshcli", controller pid \d+, 3 engines/);
    assert.deepEqual(engineProcesses(), [2, 1, 0]);

    const listed = await tspcluster("list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^\\t\\thost ${net.hosts[0]!.address} \\(ssh\\): \\d+ \\d+$`, "m"));
    assert.match(listed.stdout, new RegExp(`^\\t\\thost ${net.hosts[1]!.address} \\(ssh\\): \\d+$`, "m"));

    const added = await tspcluster("engines", "add", "1", "--profile", "sshcli", "--engines", "ssh", "--hosts", target(2, 1), "--ssh-args", sshArgs, "--remote-node", process.execPath);
    assert.equal(added.code, 0, added.stderr + added.stdout);
    assert.match(added.stdout, /added engines 3 to profile "sshcli"/);
    assert.deepEqual(engineProcesses(), [2, 1, 1]);

    const state = JSON.parse(readFileSync(join(privateRoot(), "profile_sshcli", "security", "cluster.json"), "utf8")) as { engines: { pid: number; remote?: { pid: number } }[] };
    assert.equal(state.engines.length, 4);
    const client = await Client.connect({ profile: "sshcli", activate: false, timeout: 10_000 });
    try {
      await client.waitForEngines(4, { timeout: 20_000 });
      await client.directView().execute(IMPORT_OS);
      const where = await client.directView().apply(whereAmI);
      const byHost = new Map<string, number>();
      for (const w of where) {
        // Each engine sees exactly the address of the host it was sent to, so it ran in that namespace.
        assert.deepEqual(w.addresses, [w.host], `engine pid ${w.pid} told host ${w.host} runs with addresses ${w.addresses.join(", ")}`);
        assert.equal(w.launcher, "ssh");
        byHost.set(String(w.host), (byHost.get(String(w.host)) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries(byHost), { [net.hosts[0]!.address]: 2, [net.hosts[1]!.address]: 1, [net.hosts[2]!.address]: 1 });
      // --remote-dir applies to the first launch; engines add did not give one: the login directory.
      assert.deepEqual(where.map((w) => w.cwd).sort(), ["/root", "/tmp", "/tmp", "/tmp"]);
      assert.deepEqual(where.map((w) => w.pid).sort(), state.engines.map((e) => e.remote!.pid).sort());
    } finally {
      client.close();
    }

    const stop = await tspcluster("stop", "--profile", "sshcli");
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(engineProcesses(), [0, 0, 0]);
    for (const e of state.engines) assert.ok(!isRunning(e.pid), `local ssh client ${e.pid} is gone`);
  });

  test("Cluster.start({ engines: { launcher: 'ssh', hosts } }) from code; a killed engine's host is cleaned up by stop", { timeout: 120_000 }, async () => {
    const cluster = await Cluster.start({
      profile: "sshcode", location: net.bridgeAddress, timeout: 60_000,
      engines: { launcher: "ssh", hosts: `${target(0, 1)},${target(1, 1)}`, sshArgs: net.sshArgs, remoteNode: process.execPath },
    });
    try {
      assert.equal(cluster.engineCount, 2);
      const client = await cluster.connect({ activate: false });
      let where: Awaited<ReturnType<typeof whereAmI>>[];
      try {
        await client.directView().execute(IMPORT_OS);
        where = await client.directView().apply(whereAmI);
      } finally {
        client.close();
      }
      assert.deepEqual(where.map((w) => w.addresses[0]).sort(), [net.hosts[0]!.address, net.hosts[1]!.address].sort());
      // An engine that ignores its shutdown (stopped with SIGSTOP) is still ended on its host by stop.
      const stuck = where[0]!.pid;
      process.kill(stuck, "SIGSTOP");
    } finally {
      await cluster.stop();
    }
    assert.deepEqual(engineProcesses(), [0, 0, 0]);
  });

  test("a controller that died: tspcluster stop still ends the engines on their hosts", { timeout: 120_000 }, async (t) => {
    t.after(() => tspcluster("stop", "--profile", "sshdead"));
    const start = await tspcluster(
      "start", "--profile", "sshdead", "--daemonize", "--engines", "ssh", "--hosts", `${target(0, 1)},${target(1, 1)}`,
      "--ssh-args", net.sshArgs.join(" "), "--remote-node", process.execPath, "--location", net.bridgeAddress,
    );
    assert.equal(start.code, 0, start.stderr + start.stdout);
    assert.deepEqual(engineProcesses(), [1, 1, 0]);
    const controller = Number(/controller pid (\d+)/.exec(start.stdout)?.[1]);
    process.kill(controller, "SIGKILL");
    const stop = await tspcluster("stop", "--profile", "sshdead");
    assert.equal(stop.code, 0, stop.stderr);
    // (Which path stop takes depends on whether the killed controller was reaped yet: both must end the engines.)
    assert.deepEqual(engineProcesses(), [0, 0, 0]);
  });

  test("a host that does not answer: a clear error naming it, and nothing left running", { timeout: 120_000 }, async () => {
    assert.deepEqual(engineProcesses(), [0, 0, 0], "no engine left by an earlier test");
    const start = await tspcluster(
      "start", "--profile", "sshbad", "--daemonize", "--engines", "ssh",
      "--hosts", `${target(0, 1)},${net.hosts[1]!.address}:2999:1`, "--ssh-args", net.sshArgs.join(" "), "--remote-node", process.execPath,
      "--location", net.bridgeAddress,
    );
    assert.equal(start.code, 1);
    assert.match(start.stderr, new RegExp(`ssh to ${net.hosts[1]!.address} port 2999 did not start an engine: ssh exited \\(code 255\\)`));
    assert.deepEqual(engineProcesses(), [0, 0, 0]);
    const listed = await tspcluster("list");
    assert.doesNotMatch(listed.stdout, /sshbad/);
  });
});
