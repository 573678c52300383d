/**
 * The controller on another host over ssh, for real: three "hosts" (network namespaces on a bridge, a real
 * sshd in each). The controller runs in host 1 with its own TSPARALLEL_DIR there (so nothing reaches this
 * side through a file: its connection files come back over ssh), engines run over ssh in host 2 or here,
 * and the client here connects. Where each process runs is read from the namespaces; after `stop` no
 * tsparallel process is left in any namespace. Skipped (with the reason) unless root.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Client, Cluster, parseSshTarget } from "tsparallel";
import { isRunning, privateRoot } from "./support/cluster-fixture.js";
import { createNetnsHosts, netnsOf, netnsUnavailable, type NetnsHosts } from "./support/netns-hosts.js";
import { repoRoot } from "./support/paths.js";
import { processesOfProfile } from "./support/proc-scan.js";
import { tspcluster } from "./support/tspcluster.js";

const execFileP = promisify(execFile);

/** Runs on each engine (after IMPORT_OS): its IPv4 addresses other than loopback. */
const IMPORT_OS = 'import { networkInterfaces } from "node:os"';
const addresses = () => {
  const networkInterfaces = (globalThis as unknown as { networkInterfaces: typeof import("node:os").networkInterfaces }).networkInterfaces;
  return Object.values(networkInterfaces()).flat().filter((a) => a && a.family === "IPv4" && !a.internal).map((a) => a!.address);
};

/**
 * Processes of this (root) network namespace whose command line names `program` and the profile
 * (`--profile P`, or a file in its directory). /proc shows every namespace's processes: those of the
 * "hosts" are told apart by their network namespace.
 */
function localProcesses(program: "tspcontroller" | "tspengine", profile: string): number[] {
  return processesOfProfile(program, profile, (pid) => netnsOf(pid) === netnsOf(process.pid));
}

describe("--controller-host parsing", () => {
  test("[user@]host[:port], nothing else", () => {
    assert.deepEqual(parseSshTarget("me@hostA:2222"), { target: "me@hostA", host: "hostA", port: 2222 });
    assert.deepEqual(parseSshTarget("hostB"), { target: "hostB", host: "hostB", port: undefined });
    assert.throws(() => parseSshTarget("hostA:2222:3"), /bad ssh host "hostA:2222:3": expected \[user@\]host\[:port\]/);
    assert.throws(() => parseSshTarget("hostA:0"), /port 0 is out of range/);
  });

  test("tspcluster refuses --controller ssh without --controller-host, before starting anything", async () => {
    privateRoot();
    const outcome = await tspcluster("start", "--controller", "ssh", "--profile", "ctlnohost", "--daemonize", "-n", "1");
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /--controller ssh needs --controller-host/);
    assert.equal(localProcesses("tspcontroller", "ctlnohost").length, 0);
  });
});

const skip = netnsUnavailable();

describe("controller on an ssh host (network namespaces)", { skip }, () => {
  let net: NetnsHosts;
  /** TSPARALLEL_DIR of the controller on host 1: not the client's, so no file is shared between them. */
  let remoteRoot: string;
  const host = (i: number) => `${net.hosts[i]!.address}:${net.hosts[i]!.sshPort}`;
  const everywhere = () => net.hosts.map((h) => net.processesIn(h.ns, /tspcontroller|tspengine/).length);

  before(async () => {
    privateRoot();
    remoteRoot = mkdtempSync(join(tmpdir(), "tsp-remote-root-"));
    net = await createNetnsHosts(3);
  });

  after(async () => {
    for (const profile of ["ctlcli", "ctlcode", "ctlbad"]) await tspcluster("stop", "--profile", profile);
    net?.teardown();
    if (remoteRoot) rmSync(remoteRoot, { recursive: true, force: true });
  });

  test("tspcluster start --controller ssh --engines ssh: controller on host 1, engines on hosts 2 and 3, files fetched over ssh; list says where; restarted over ssh; stop leaves nothing", { timeout: 180_000 }, async (t) => {
    t.after(() => tspcluster("stop", "--profile", "ctlcli"));
    const start = await tspcluster(
      "start", "--profile", "ctlcli", "--daemonize",
      "--controller", "ssh", "--controller-host", `root@${host(0)}`, "--remote-tsparallel-dir", remoteRoot,
      "--engines", "ssh", "--hosts", `${host(1)}:2`,
      "--ssh-args", net.sshArgs.join(" "), "--remote-node", process.execPath,
    );
    assert.equal(start.code, 0, start.stderr + start.stdout);
    const controllerHost = net.hosts[0]!.address;
    const remotePid = Number(new RegExp(`controller pid (\\d+) on ${controllerHost} \\(ssh\\), 2 engines`).exec(start.stdout)?.[1]);
    assert.ok(remotePid > 0, start.stdout);
    // The controller runs in host 1 (and only there), the engines in host 2.
    assert.deepEqual(net.processesIn(net.hosts[0]!.ns, /tspcontroller/), [remotePid]);
    assert.deepEqual(everywhere(), [1, 2, 0]);
    assert.deepEqual(localProcesses("tspcontroller", "ctlcli"), [], "no controller of this profile runs here");

    // The controller wrote its files on its host; the ones here are the same connection info, whole.
    const security = (root: string) => join(root, "profile_ctlcli", "security");
    for (const file of ["tspcontroller-client.json", "tspcontroller-engine.json"]) {
      const here = JSON.parse(readFileSync(join(security(privateRoot()), file), "utf8")) as Record<string, unknown>;
      const there = JSON.parse(readFileSync(join(security(remoteRoot), file), "utf8")) as Record<string, unknown>;
      assert.deepEqual(here, there, file);
      assert.equal(here.location, controllerHost);
    }

    const listed = await tspcluster("list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^ctlcli\\t''\\tcontroller pid ${remotePid} on ${controllerHost} \\(ssh\\)\\t0:\\w+\\(pid \\d+\\) 1:\\w+\\(pid \\d+\\)\\tsupervisor pid \\d+, 0 restarts$`, "m"));
    assert.match(listed.stdout, new RegExp(`^\\t\\thost ${net.hosts[1]!.address} \\(ssh\\): 0 1$`, "m"));

    // engines add reads the fetched engine file here and hands it to an engine on host 3.
    const added = await tspcluster("engines", "add", "1", "--profile", "ctlcli", "--engines", "ssh", "--hosts", `${host(2)}:1`, "--ssh-args", net.sshArgs.join(" "), "--remote-node", process.execPath);
    assert.equal(added.code, 0, added.stderr + added.stdout);
    assert.deepEqual(everywhere(), [1, 2, 1]);

    const client = await Client.connect({ profile: "ctlcli", activate: false, timeout: 10_000 });
    try {
      await client.waitForEngines(3, { timeout: 20_000 });
      await client.directView().execute(IMPORT_OS);
      assert.deepEqual(await client.directView().apply(addresses), [[net.hosts[1]!.address], [net.hosts[1]!.address], [net.hosts[2]!.address]]);
    } finally {
      client.close();
    }

    // A crashed controller is restarted by the supervisor over ssh, with --restore on its host: same
    // ports and key, fetched again; the engines rejoin it.
    process.kill(remotePid, "SIGKILL");
    const stateFile = join(security(privateRoot()), "cluster.json");
    type State = { controller: { pid: number; remote?: { pid: number } }; supervisor: { pid: number; restarts: number } };
    const readState = () => JSON.parse(readFileSync(stateFile, "utf8")) as State;
    const restartsReach = async (n: number) => {
      const deadline = Date.now() + 60_000;
      while (readState().supervisor.restarts < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.equal(readState().supervisor.restarts, n, readFileSync(join(privateRoot(), "profile_ctlcli", "log", "supervisor.log"), "utf8"));
    };
    await restartsReach(1);
    const firstRestart = readState().controller.remote!.pid;
    assert.notEqual(firstRestart, remotePid);
    assert.deepEqual(net.processesIn(net.hosts[0]!.ns, /tspcontroller/), [firstRestart]);
    // A dropped ssh link (its local client killed) while the controller still runs there: the restart
    // ends that controller first (else the restored one could not bind its ports).
    process.kill(readState().controller.pid, "SIGKILL");
    await restartsReach(2);
    const state = readState();
    const restarted = state.controller.remote!.pid;
    assert.notEqual(restarted, firstRestart);
    assert.deepEqual(net.processesIn(net.hosts[0]!.ns, /tspcontroller/), [restarted]);
    const again = await Client.connect({ profile: "ctlcli", activate: false, timeout: 10_000 });
    try {
      await again.waitForEngines(3, { timeout: 60_000 });
      assert.deepEqual(await again.directView().apply((x: number) => x * 3, 14), [42, 42, 42]);
    } finally {
      again.close();
    }

    const stop = await tspcluster("stop", "--profile", "ctlcli");
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(everywhere(), [0, 0, 0]);
    assert.ok(!isRunning(state.controller.pid), "the local ssh client of the controller is gone");
    assert.ok(!isRunning(state.supervisor.pid), "the supervisor is gone");
    assert.ok(!existsSync(join(security(privateRoot()), "cluster.json")));
  });

  test("Cluster.start({ controller: { launcher: 'ssh', host } }) with local engines: they reach it across the bridge; stop ends it there", { timeout: 120_000 }, async () => {
    const cluster = await Cluster.start({
      profile: "ctlcode", n: 2, timeout: 60_000,
      controller: { launcher: "ssh", host: host(0), sshArgs: net.sshArgs, remoteNode: process.execPath, remoteTsparallelDir: remoteRoot },
    });
    try {
      assert.equal(cluster.controller.remote?.host, net.hosts[0]!.address);
      assert.deepEqual(net.processesIn(net.hosts[0]!.ns, /tspcontroller/), [cluster.controller.remote!.pid]);
      assert.deepEqual(localProcesses("tspcontroller", "ctlcode"), []);
      assert.equal(localProcesses("tspengine", "ctlcode").length, 2);
      const client = await cluster.connect({ activate: false });
      try {
        const engines = client.engines;
        assert.equal(engines.length, 2);
        // The engines are processes of this (root) namespace: local engines, not on the controller's host.
        for (const e of engines) assert.ok(isRunning(e.pid), `engine pid ${e.pid} runs here`);
        assert.deepEqual(await client.directView().apply((x: number) => x * 2, 21), [42, 42]);
      } finally {
        client.close();
      }
    } finally {
      await cluster.stop();
    }
    assert.deepEqual(everywhere(), [0, 0, 0]);
    assert.deepEqual(localProcesses("tspengine", "ctlcode"), []);
  });

  test("a script that ends without stop(): its controller does not outlive it on the host", { timeout: 120_000 }, async () => {
    const script = [
      `import { Cluster } from ${JSON.stringify(join(repoRoot, "client/dist/index.js"))};`,
      `const cluster = await Cluster.start({ profile: "ctlexit", n: 1, timeout: 60_000, controller: ${JSON.stringify({ launcher: "ssh", host: host(0), sshArgs: net.sshArgs, remoteNode: process.execPath, remoteTsparallelDir: remoteRoot })} });`,
      `console.log(cluster.controller.remote.pid);`,
      `process.exit(0);`,
    ].join("\n");
    const { stdout } = await execFileP(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, TSPARALLEL_DIR: privateRoot() }, timeout: 90_000 });
    assert.ok(Number(stdout.trim()) > 0, stdout);
    assert.deepEqual(everywhere(), [0, 0, 0]);
    // Its local engine got SIGTERM as the script exited (a launcher's children die with the process): give it a moment.
    for (let i = 0; i < 50 && localProcesses("tspengine", "ctlexit").length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(localProcesses("tspengine", "ctlexit"), []);
  });

  test("a controller host that does not answer: a clear error naming it, and nothing left running", { timeout: 120_000 }, async () => {
    const start = await tspcluster(
      "start", "--profile", "ctlbad", "--daemonize", "-n", "1",
      "--controller", "ssh", "--controller-host", `${net.hosts[0]!.address}:2999`, "--ssh-args", net.sshArgs.join(" "), "--remote-node", process.execPath,
    );
    assert.equal(start.code, 1);
    assert.match(start.stderr, new RegExp(`the controller did not start on ${net.hosts[0]!.address} port 2999: ssh exited \\(code 255\\)`));
    assert.deepEqual(everywhere(), [0, 0, 0]);
    assert.deepEqual(localProcesses("tspengine", "ctlbad"), []);
    const listed = await tspcluster("list");
    assert.doesNotMatch(listed.stdout, /ctlbad/);
  });
});
