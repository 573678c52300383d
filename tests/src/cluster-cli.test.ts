/**
 * The `tspcluster` CLI as a user runs it: start --daemonize, list, engines add, stop, and the
 * quickstart example against the cluster it started. Every process runs with a private TSPARALLEL_DIR.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { eventually, isRunning, privateRoot } from "./support/cluster-fixture.js";
import { bins, repoRoot } from "./support/paths.js";

const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tspcluster ...args` to completion; a non-zero exit is an outcome, not an exception. */
async function tspcluster(...args: string[]): Promise<Outcome> {
  return node(bins.cluster, ...args);
}

async function node(script: string, ...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [script, ...args], { env: { ...process.env, TSPARALLEL_DIR: privateRoot() }, timeout: 60_000, cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number") throw err;
    return { code: failed.code, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

/** Pids from `tspcluster list` output: the controller's and each engine's (not the supervisor's column). */
function pidsIn(listing: string): number[] {
  const columns = listing.split("\n").flatMap((line) => line.split("\t").slice(2, 4));
  return columns.flatMap((column) => [...column.matchAll(/pid (\d+)/g)].map((m) => Number(m[1])));
}

const started = new Set<number>();

// A daemonized cluster outlives this process: whatever a failed test left behind is stopped here.
after(async () => {
  for (const profile of ["default", "foreground"]) await tspcluster("stop", "--profile", profile);
  // --all first; the profile's own cluster alone too, should --all be what failed.
  await tspcluster("stop", "--all", "--profile", "ids-cli");
  await tspcluster("stop", "--profile", "ids-cli");
  for (const pid of started) if (isRunning(pid)) process.kill(pid, "SIGKILL");
});

describe("tspcluster", () => {
  test("start --daemonize, list, quickstart, engines add, stop", { timeout: 120_000 }, async () => {
    const start = await tspcluster("start", "-n", "2", "--daemonize");
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^cluster ready in \d+ ms: profile "default", controller pid \d+, 2 engines \(\d+, \d+\)$/m);
    assert.match(start.stdout, /^supervised by pid \d+: crashed processes are restarted/m);
    assert.match(start.stdout, /connect with: await Client\.connect\(\)/);

    const listed = await tspcluster("list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^PROFILE\tCLUSTER ID\tCONTROLLER\tENGINES\tSUPERVISOR$/m);
    assert.match(listed.stdout, /^default\t''\tcontroller pid \d+\t0:(idle|busy)\(pid \d+\) 1:(idle|busy)\(pid \d+\)\tsupervisor pid \d+, 0 restarts$/m);
    const pids = pidsIn(listed.stdout);
    assert.equal(pids.length, 3);
    for (const pid of pids) started.add(pid);
    for (const pid of pids) assert.ok(isRunning(pid), `pid ${pid} runs after the CLI exited`);

    const again = await tspcluster("start", "-n", "1", "--daemonize");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running in profile "default"/);

    const quickstart = await node(join(repoRoot, "examples/quickstart.mjs"));
    assert.equal(quickstart.code, 0, quickstart.stderr);
    const lines = quickstart.stdout;
    assert.match(lines, /^connected to tcp:\/\/127\.0\.0\.1:\d+, engines 0, 1$/m);
    assert.match(lines, /^execute: \[ 42, 42 \]$/m);
    assert.match(lines, /^pull: \[ 'hello', 'hello' \]$/m);
    assert.match(lines, new RegExp(`^apply \\(engine pids\\): \\[ ${pids[1]}, ${pids[2]} \\]$`, "m"));
    assert.match(lines, /^apply with ref: \[ 'hellohello', 'hellohello' \]$/m);
    assert.match(lines, /^scattered parts: \[\[1,2,3,4\],\[5,6,7,8\]\]$/m);
    assert.match(lines, /^gather: \[2,4,6,8,10,12,14,16\]$/m);
    assert.match(lines, /^remote error: \[engine 0\] RangeError: out of range$/m);
    assert.match(lines, /^progress 8\/8: got 64$/m);
    assert.match(lines, /^lb map: \[1,4,9,16,25,36,49,64\]$/m);
    assert.match(lines, /^stdout of the first task: "squaring 1\\n"$/m);
    assert.match(lines, /^metadata of the first task: engine [01], status ok$/m);
    assert.match(lines, /^done$/m);

    const added = await tspcluster("engines", "add", "1");
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added engines 2 to profile "default"$/m);
    const grown = await tspcluster("list");
    assert.match(grown.stdout, /^default\t''\tcontroller pid \d+\t0:\w+\(pid \d+\) 1:\w+\(pid \d+\) 2:\w+\(pid \d+\)\tsupervisor pid \d+, 0 restarts$/m);
    const allPids = pidsIn(grown.stdout);
    for (const pid of allPids) started.add(pid);

    const stop = await tspcluster("stop");
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^stopped the cluster of profile "default"$/m);
    for (const pid of allPids) assert.equal(isRunning(pid), false, `pid ${pid} is gone after stop`);
    assert.equal(existsSync(join(privateRoot(), "profile_default/security/cluster.json")), false);
    assert.equal(existsSync(join(privateRoot(), "profile_default/security/tspcontroller-client.json")), false);

    assert.match((await tspcluster("list")).stdout, /^no clusters running$/m);
    const stopAgain = await tspcluster("stop");
    assert.equal(stopAgain.code, 1);
    assert.match(stopAgain.stderr, /no cluster is running in profile "default"/);
  });

  test("clusters with ids: start --cluster-id, list shows each with its id, engines add and stop address one, stop --all the rest [test_cluster_id]", { timeout: 180_000 }, async () => {
    const profile = "ids-cli";
    const row = (listing: string, id: string) => listing.split("\n").find((line) => line.startsWith(`${profile}\t${id}\t`));
    for (const id of ["", "a", "b"]) {
      const start = await tspcluster("start", "-n", "1", "--daemonize", "--profile", profile, ...(id ? ["--cluster-id", id] : []));
      assert.equal(start.code, 0, start.stderr);
      assert.match(start.stdout, new RegExp(`^cluster ready in \\d+ ms: profile "${profile}",${id ? ` cluster id "${id}",` : ""} controller pid \\d+, 1 engines \\(\\d+\\)$`, "m"));
      assert.match(start.stdout, new RegExp(`connect with: await Client\\.connect\\(\\{ profile: "${profile}"${id ? `, clusterId: "${id}"` : ""} \\}\\)`));
    }

    const listed = await tspcluster("list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^PROFILE\tCLUSTER ID\tCONTROLLER\tENGINES\tSUPERVISOR$/m);
    const pids = new Map<string, number[]>();
    for (const [id, column] of [["", "''"], ["a", "a"], ["b", "b"]] as const) {
      const line = row(listed.stdout, column);
      assert.ok(line, `a row for cluster "${id}" in:\n${listed.stdout}`);
      assert.match(line, /\tcontroller pid \d+\t0:\w+\(pid \d+\)\tsupervisor pid \d+, 0 restarts$/);
      pids.set(id, pidsIn(line));
      for (const pid of pidsIn(line)) started.add(pid);
    }
    assert.equal(new Set([...pids.values()].flat()).size, 6, "three controllers and three engines, all different processes");
    assert.deepEqual((await tspcluster("list", "--profile", profile)).stdout.split("\n").filter((l) => l.startsWith(`${profile}\t`)).length, 3);

    const again = await tspcluster("start", "-n", "1", "--daemonize", "--profile", profile, "--cluster-id", "a");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /cluster "a" of profile "ids-cli" is already running/);
    const bad = await tspcluster("start", "-n", "1", "--profile", profile, "--cluster-id", "../x");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid cluster id "\.\.\/x"/);

    const added = await tspcluster("engines", "add", "1", "--profile", profile, "--cluster-id", "a");
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added engines 1 to cluster "a" of profile "ids-cli"$/m);
    const grown = await tspcluster("list");
    assert.match(row(grown.stdout, "a") ?? "", /\t0:\w+\(pid \d+\) 1:\w+\(pid \d+\)\t/, "cluster a has two engines");
    assert.match(row(grown.stdout, "''") ?? "", /\t0:\w+\(pid \d+\)\t/, "the profile's own cluster still has one");
    const aPids = pidsIn(row(grown.stdout, "a")!);
    for (const pid of aPids) started.add(pid);

    const stop = await tspcluster("stop", "--profile", profile, "--cluster-id", "a");
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^stopped cluster "a" of profile "ids-cli"$/m);
    for (const pid of aPids) assert.equal(isRunning(pid), false, `pid ${pid} of cluster a is gone after its stop`);
    for (const pid of [...pids.get("")!, ...pids.get("b")!]) assert.ok(isRunning(pid), `pid ${pid} of another cluster still runs`);
    const security = join(privateRoot(), `profile_${profile}`, "security");
    assert.equal(existsSync(join(security, "cluster-a.json")), false);
    assert.equal(existsSync(join(security, "tspcontroller-a-client.json")), false);
    const afterStop = await tspcluster("list");
    assert.equal(row(afterStop.stdout, "a"), undefined, afterStop.stdout);
    assert.ok(row(afterStop.stdout, "''") && row(afterStop.stdout, "b"), afterStop.stdout);
    const stopAgain = await tspcluster("stop", "--profile", profile, "--cluster-id", "a");
    assert.equal(stopAgain.code, 1);
    assert.match(stopAgain.stderr, /no cluster "a" is running in profile "ids-cli"/);
    const both = await tspcluster("stop", "--all", "--cluster-id", "b", "--profile", profile);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /give --cluster-id or --all, not both/);
    assert.ok(row((await tspcluster("list")).stdout, "b"), "a refused stop stops nothing");

    const all = await tspcluster("stop", "--all", "--profile", profile);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^stopped the cluster of profile "ids-cli"$/m);
    assert.match(all.stdout, /^stopped cluster "b" of profile "ids-cli"$/m);
    for (const pid of [...pids.get("")!, ...pids.get("b")!]) assert.equal(isRunning(pid), false, `pid ${pid} is gone after stop --all`);
    assert.equal(row((await tspcluster("list")).stdout, "''"), undefined);
  });

  test("a foreground cluster stops on Ctrl+C (SIGINT) and leaves nothing running", { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [bins.cluster, "start", "-n", "1", "--profile", "foreground"], {
      env: { ...process.env, TSPARALLEL_DIR: privateRoot() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await eventually("the foreground cluster to be ready", () => stdout.includes("press Ctrl+C to stop it"), 30_000);
    const listed = await tspcluster("list");
    const line = listed.stdout.split("\n").find((l) => l.startsWith("foreground\t"));
    assert.ok(line, listed.stdout);
    const pids = pidsIn(line);
    assert.equal(pids.length, 2);
    for (const pid of pids) started.add(pid);
    child.kill("SIGINT");
    assert.equal(await exited, 0);
    assert.match(stdout, /stopping the cluster\.\.\./);
    for (const pid of pids) assert.equal(isRunning(pid), false, `pid ${pid} is gone`);
  });

  test("a stale state file is reported by list and cleaned up by stop", async () => {
    const security = join(privateRoot(), "profile_stale", "security");
    mkdirSync(security, { recursive: true, mode: 0o700 });
    const exited = spawn(process.execPath, ["-e", ""]);
    const deadPid = exited.pid!;
    await new Promise((resolve) => exited.once("exit", resolve));
    const state = {
      profile: "stale", controller: { pid: deadPid, host: "localhost" }, engines: [], clientFile: join(security, "tspcontroller-client.json"),
      engineFile: join(security, "tspcontroller-engine.json"), daemon: true, started: new Date().toISOString(),
    };
    writeFileSync(join(security, "cluster.json"), JSON.stringify(state), { mode: 0o600 });
    const listed = await tspcluster("list");
    assert.match(listed.stdout, new RegExp(`^stale\\t''\\tstale \\(controller pid ${deadPid} is gone\\)$`, "m"));
    const stop = await tspcluster("stop", "--profile", "stale");
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /was already gone; cleaned up its state/);
    assert.equal(existsSync(join(security, "cluster.json")), false);
  });

  test("bad arguments are refused with a message", async () => {
    const zero = await tspcluster("start", "-n", "0");
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /expected a positive integer/);
    const noCluster = await tspcluster("engines", "add", "1", "--profile", "nothing-here");
    assert.equal(noCluster.code, 1);
    assert.match(noCluster.stderr, /no cluster is running in profile "nothing-here"/);
    const unknown = await tspcluster("launch");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command 'launch'/);
  });
});
