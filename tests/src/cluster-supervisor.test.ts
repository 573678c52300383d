/**
 * The supervisor `tspcluster start` leaves in front of its processes: it restarts a SIGKILLed engine
 * and a SIGKILLed controller, gives up on a process that keeps crashing, is stopped first by
 * `tspcluster stop`, and never signals a pid that cluster.json names unless it is verified to be ours.
 * Real processes throughout, with a private TSPARALLEL_DIR.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Client, Cluster } from "tsparallel";
import { eventually, firstBeats, isRunning, privateRoot } from "./support/cluster-fixture.js";
import { bins, repoRoot } from "./support/paths.js";
import { tspcluster } from "./support/tspcluster.js";



interface Recorded {
  pid: number;
  startTime?: number;
  cmdline?: string[];
}

interface StateFile {
  controller: Recorded;
  engines: Recorded[];
  engineFile: string;
  supervisor?: Recorded & { kind: string; logFile: string; restarts: number };
}

const stateFile = (profile: string) => join(privateRoot(), `profile_${profile}`, "security", "cluster.json");

function readStateFile(profile: string): StateFile | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(profile), "utf8")) as StateFile;
  } catch {
    return undefined;
  }
}

function supervisorLog(profile: string): string {
  try {
    return readFileSync(join(privateRoot(), `profile_${profile}`, "log", "supervisor.log"), "utf8");
  } catch {
    return "";
  }
}

/** Every pid a test saw (supervisor first), SIGKILLed at the end if a failed test left it running. */
const seen: number[] = [];
const profiles = new Set<string>();

function remember(state: StateFile): void {
  for (const p of [state.supervisor, state.controller, ...state.engines]) if (p && !seen.includes(p.pid)) seen.push(p.pid);
}

async function startDaemon(profile: string, ...args: string[]): Promise<StateFile> {
  profiles.add(profile);
  const start = await tspcluster("start", "--daemonize", "--profile", profile, ...args);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /^supervised by pid \d+: crashed processes are restarted \(log: .*supervisor\.log\)$/m);
  const state = readStateFile(profile);
  assert.ok(state, "cluster.json is written");
  remember(state);
  // The controller judges an engine from its first heartbeat on: an engine killed before that counts as
  // one still starting, and the controller would list it for its first-beat grace.
  const client = await Client.connect({ profile, timeout: 10_000, activate: false });
  try {
    await firstBeats(client, client.ids);
  } finally {
    client.close();
  }
  return state;
}

/** Runs (a zombie waiting for init to reap it has exited: it is not running). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const live = (client: Client) => client.engines.filter((e) => e.state !== "dead" && e.state !== "stopped").map((e) => e.pid).sort();
const sorted = (pids: number[]) => [...pids].sort();

after(async () => {
  for (const profile of profiles) await tspcluster("stop", "--profile", profile);
  for (const pid of seen) if (isRunning(pid)) process.kill(pid, "SIGKILL");
});

describe("supervisor", () => {
  test("restarts a SIGKILLed engine: the cluster has n engines again and a new client maps on all of them", { timeout: 120_000 }, async () => {
    const profile = "sup-engine";
    const before = await startDaemon(profile, "-n", "2");
    assert.equal(before.supervisor?.kind, "process");
    const victim = before.engines[0]!.pid;
    process.kill(victim, "SIGKILL");
    const restarted = await eventually("a new engine in cluster.json", () => {
      const state = readStateFile(profile);
      const replaced = state && state.engines.length === 2 && !state.engines.some((e) => e.pid === victim) && state.engines.every((e) => isRunning(e.pid));
      return replaced && state.supervisor?.restarts === 1 ? state : undefined;
    }, 30_000);
    remember(restarted);
    assert.equal(restarted.supervisor?.restarts, 1);
    assert.match(supervisorLog(profile), new RegExp(`engine pid ${victim} was killed by SIGKILL: restarting it in \\d+ ms`));
    // cluster.json is written as the new engine starts; the log line follows it.
    await eventually("the restart in the supervisor's log", () => new RegExp(`restarted the engine: pid \\d+ replaces pid ${victim}`).test(supervisorLog(profile)));

    const client = await Client.connect({ profile, timeout: 10_000, activate: false });
    try {
      const pids = sorted(restarted.engines.map((e) => e.pid));
      await eventually("the controller to list exactly the two live engines", () => JSON.stringify(live(client)) === JSON.stringify(pids), 30_000);
      const dv = client.directView("all");
      assert.deepEqual(sorted(await dv.apply(() => process.pid)), pids);
      assert.deepEqual(await dv.map((x: number) => x * 10, [1, 2, 3, 4, 5, 6]), [10, 20, 30, 40, 50, 60]);
    } finally {
      client.close();
    }
    const listed = await tspcluster("list");
    assert.match(listed.stdout, /^PROFILE\tCLUSTER ID\tCONTROLLER\tENGINES\tSUPERVISOR$/m);
    assert.match(listed.stdout, new RegExp(`^${profile}\\t''\\tcontroller pid ${restarted.controller.pid}\\t.*\\tsupervisor pid ${restarted.supervisor!.pid}, 1 restarts$`, "m"));

    // An engine added later is started by the supervisor (through its control socket), so it is watched too.
    const added = await tspcluster("engines", "add", "1", "--profile", profile);
    assert.equal(added.code, 0, added.stderr);
    const grown = readStateFile(profile)!;
    assert.equal(grown.engines.length, 3);
    const addedPid = grown.engines[2]!.pid;
    remember(grown);
    process.kill(addedPid, "SIGKILL");
    const again = await eventually("the added engine to be restarted", () => {
      const state = readStateFile(profile);
      return state && state.engines.length === 3 && !state.engines.some((e) => e.pid === addedPid) && state.engines.every((e) => isRunning(e.pid)) && state.supervisor?.restarts === 2 ? state : undefined;
    }, 30_000);
    remember(again);
    assert.equal((await tspcluster("stop", "--profile", profile)).code, 0);
  });

  // The restarted controller has the same ports and key (--restore): the engines rejoin it.
  test("restarts a SIGKILLed controller: a new controller in the same profile answers a new client", { timeout: 120_000 }, async () => {
    const profile = "sup-controller";
    const before = await startDaemon(profile, "-n", "2");
    const victim = before.controller.pid;
    process.kill(victim, "SIGKILL");
    const restarted = await eventually("a new controller in cluster.json", () => {
      const state = readStateFile(profile);
      const replaced = state && state.controller.pid !== victim && isRunning(state.controller.pid);
      return replaced && supervisorLog(profile).includes(`restarted the controller: pid ${state.controller.pid} replaces pid ${victim}`) ? state : undefined;
    }, 40_000);
    remember(restarted);
    assert.match(supervisorLog(profile), new RegExp(`controller pid ${victim} was killed by SIGKILL: restarting it in \\d+ ms`));

    const client = await Client.connect({ profile, timeout: 10_000, activate: false });
    try {
      await client.waitForEngines(2, { timeout: 60_000 });
      const now = await eventually("two running engines in cluster.json", () => {
        const state = readStateFile(profile);
        return state && state.engines.length === 2 && state.engines.every((e) => isRunning(e.pid)) ? state : undefined;
      }, 30_000);
      remember(now);
      const pids = sorted(now.engines.map((e) => e.pid));
      assert.deepEqual(pids, sorted(before.engines.map((e) => e.pid)), "the engines rejoined the restored controller: none had to be restarted");
      await eventually("the new controller to list the two running engines", () => JSON.stringify(live(client)) === JSON.stringify(pids), 30_000);
      const dv = client.directView("all");
      assert.deepEqual(sorted(await dv.apply(() => process.pid)), pids);
      assert.deepEqual(await client.loadBalancedView().map((x: number) => x + 1, [1, 2, 3, 4]), [2, 3, 4, 5]);
    } finally {
      client.close();
    }
    assert.equal((await tspcluster("stop", "--profile", profile)).code, 0);
  });

  test("gives up on an engine that keeps crashing, logs it, and keeps the rest running", { timeout: 120_000 }, async () => {
    const profile = "sup-crashloop";
    const before = await startDaemon(profile, "-n", "1", "--max-restarts", "3");
    // Every engine started from now on exits at once: its connection file is not JSON.
    writeFileSync(before.engineFile, "this is not a connection file\n");
    const victim = before.engines[0]!.pid;
    process.kill(victim, "SIGKILL");
    await eventually("the supervisor to give up on the engine", () => /giving up on it after 3 restarts/.test(supervisorLog(profile)), 60_000);
    const log = supervisorLog(profile);
    // Three restarts, each after a longer backoff than the one before, then no fourth.
    assert.deepEqual([...log.matchAll(/: restarting it in (\d+) ms \(restart (\d+) of at most 3/g)].map((m) => [Number(m[1]), Number(m[2])]), [
      [500, 1],
      [1000, 2],
      [2000, 3],
    ]);
    assert.equal([...log.matchAll(/restarted the engine: pid (\d+)/g)].length, 3);
    for (const m of log.matchAll(/restarted the engine: pid (\d+)/g)) seen.push(Number(m[1]));
    assert.match(log, /engine pid \d+ exited with code 1: giving up on it after 3 restarts within 600 s/);
    const state = readStateFile(profile)!;
    assert.deepEqual(state.engines, []);
    assert.equal(state.supervisor?.restarts, 3);
    assert.ok(isRunning(state.supervisor!.pid), "the supervisor keeps running");
    assert.ok(isRunning(state.controller.pid), "the controller keeps running");
    assert.equal((await tspcluster("stop", "--profile", profile)).code, 0);
  });

  test("an engine stopped on purpose stays stopped; a client's shutdown of the controller ends the supervisor", { timeout: 120_000 }, async () => {
    const profile = "sup-on-purpose";
    const before = await startDaemon(profile, "-n", "2");
    const client = await Client.connect({ profile, timeout: 10_000, activate: false });
    try {
      await client.waitForEngines(2, { timeout: 30_000 });
      const stopped = client.engines.find((e) => e.pid === before.engines[0]!.pid)!;
      await client.stopEngines([stopped.id]);
      await eventually("cluster.json to drop the stopped engine", () => readStateFile(profile)?.engines.length === 1, 30_000);
      assert.match(supervisorLog(profile), new RegExp(`engine pid ${stopped.pid} exited with code 0 \\(stopped on purpose\\): not restarted`));
      assert.equal(running(stopped.pid), false);
      await client.shutdown({ hub: true });
    } finally {
      client.close();
    }
    await eventually("the supervisor to stop with its cluster", () => !running(before.supervisor!.pid) && !existsSync(stateFile(profile)), 30_000);
    assert.match(supervisorLog(profile), /supervision ends: the controller pid \d+ exited with code 0 \(the cluster was shut down\)/);
    assert.doesNotMatch(supervisorLog(profile), /restarting it/);
    for (const pid of [before.controller.pid, ...before.engines.map((e) => e.pid)]) assert.equal(running(pid), false, `pid ${pid} is gone`);
  });

  test("tspcluster stop stops the supervisor first and leaves no supervisor, controller or engine process", { timeout: 120_000 }, async () => {
    const profile = "sup-stop";
    const state = await startDaemon(profile, "-n", "2");
    const pids = [state.supervisor!.pid, state.controller.pid, ...state.engines.map((e) => e.pid)];
    assert.equal(pids.length, 4);
    for (const pid of pids) assert.ok(isRunning(pid), `pid ${pid} runs`);
    const stop = await tspcluster("stop", "--profile", profile);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`^stopped the cluster of profile "${profile}"$`, "m"));
    for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} is gone after stop`);
    assert.equal(existsSync(stateFile(profile)), false);
    assert.equal(existsSync(join(privateRoot(), `profile_${profile}`, "security", "supervisor.sock")), false);
    const log = supervisorLog(profile);
    assert.match(log, /supervisor: stopping the cluster \(SIGTERM\)/);
    assert.doesNotMatch(log, /restarting it/, "nothing was restarted while the cluster stopped");
  });

  test("a foreground tspcluster start supervises too, and ends when tspcluster stop stops its cluster", { timeout: 120_000 }, async () => {
    const profile = "sup-foreground";
    profiles.add(profile);
    const child = spawn(process.execPath, [bins.cluster, "start", "-n", "1", "--profile", profile], { env: { ...process.env, TSPARALLEL_DIR: privateRoot() }, stdio: ["ignore", "pipe", "pipe"] });
    seen.push(child.pid!);
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await eventually("the foreground cluster to be ready", () => stdout.includes("press Ctrl+C to stop it"), 30_000);
    const state = readStateFile(profile)!;
    remember(state);
    assert.equal(state.supervisor?.kind, "in-process");
    assert.equal(state.supervisor?.pid, child.pid);
    const victim = state.engines[0]!.pid;
    process.kill(victim, "SIGKILL");
    const restarted = await eventually("the engine to be restarted", () => {
      const now = readStateFile(profile);
      return now && now.engines.length === 1 && now.engines[0]!.pid !== victim && isRunning(now.engines[0]!.pid) ? now : undefined;
    }, 30_000);
    remember(restarted);
    const stop = await tspcluster("stop", "--profile", profile);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(await exited, 0);
    for (const pid of [restarted.controller.pid, restarted.engines[0]!.pid]) assert.equal(running(pid), false, `pid ${pid} is gone`);
  });

  test("Cluster.start({ supervise }) restarts a crashed engine from code", { timeout: 120_000 }, async () => {
    privateRoot();
    const cluster = await Cluster.start({ n: 1, profile: "sup-code", supervise: { maxRestarts: 2 }, timeout: 30_000 });
    try {
      const victim = cluster.engines[0]!.pid;
      assert.equal(cluster.supervisor?.kind, "in-process");
      process.kill(victim, "SIGKILL");
      const replacement = await eventually("a new engine", () => cluster.engines.find((e) => e.pid !== victim && isRunning(e.pid)), 30_000);
      const client = await cluster.connect({ timeout: 10_000 });
      try {
        await eventually("the replacement to register", () => live(client).includes(replacement.pid), 30_000);
        assert.deepEqual(await client.directView(client.ids.find((id) => client.engines.find((e) => e.id === id)?.pid === replacement.pid)!).apply(() => process.pid), replacement.pid);
      } finally {
        client.close();
      }
    } finally {
      await cluster.stop();
    }
  });
});

describe("stale pids", () => {
  // A cluster.json left over from a cluster long gone, whose pids now belong to somebody else.
  for (const [name, recorded] of [
    ["start time and command line of another process", (pid: number) => ({ pid, host: undefined, startTime: 1, cmdline: [process.execPath, bins.controller, "--profile", "x"] })],
    ["an older cluster.json without start time and command line", (pid: number) => ({ pid })],
  ] as const) {
    test(`tspcluster stop never signals a pid it cannot verify (${name})`, { timeout: 60_000 }, async () => {
      const profile = `stale-${name.length}`;
      profiles.add(profile);
      const stranger = spawn("sleep", ["300"], { stdio: "ignore" });
      seen.push(stranger.pid!);
      try {
        const security = join(privateRoot(), `profile_${profile}`, "security");
        mkdirSync(security, { recursive: true, mode: 0o700 });
        const record = { ...recorded(stranger.pid!), host: undefined };
        const state = {
          profile, controller: record, engines: [record, record], clientFile: join(security, "tspcontroller-client.json"),
          engineFile: join(security, "tspcontroller-engine.json"), daemon: true, started: new Date().toISOString(),
          supervisor: { ...record, kind: "process", logFile: join(security, "x.log"), restarts: 0 },
        };
        writeFileSync(join(security, "cluster.json"), JSON.stringify(state), { mode: 0o600 });
        const stop = await tspcluster("stop", "--profile", profile);
        assert.equal(stop.code, 0, stop.stderr);
        // A signalled sleep would be gone (reaped by this process) or a zombie by now: stop waits for what it signals.
        assert.ok(running(stranger.pid!), "the unrelated sleep is still alive");
        assert.equal(stranger.exitCode, null);
        assert.equal(stranger.signalCode, null);
        assert.match(stop.stdout, /was already gone; cleaned up its state/);
        assert.equal(existsSync(join(security, "cluster.json")), false);
        writeFileSync(join(security, "cluster.json"), JSON.stringify(state), { mode: 0o600 });
        const listed = await tspcluster("list");
        assert.match(listed.stdout, new RegExp(`^${profile}\\t''\\tstale \\(controller pid ${stranger.pid} is gone\\)$`, "m"));
      } finally {
        stranger.kill("SIGKILL");
      }
    });
  }
});
