/**
 * A cluster that outlives its parts stopping: engines that were declared dead or lost the controller
 * come back under their id with their namespace, and a client that dies takes its queued work with it.
 * Real controller, engine and client processes; signals stop and kill them.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { eventually, isRunning, startCluster, type TestCluster } from "./support/cluster-fixture.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pidOf = (): number => process.pid;

/** SIGCONT whatever a test stopped, so a failed test never leaves a stopped process behind. */
function resume(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // Already gone.
    }
  }
}

test("an engine stopped until declared dead rejoins on SIGCONT under the same id, with its namespace, and runs new tasks", { timeout: 90_000 }, async (t) => {
  // Short heartbeats so that "dead" comes quickly; the point is what happens after.
  const tc: TestCluster = await startCluster({ n: 2, controllerArgs: ["--heartbeat-ms", "200", "--heartbeat-timeout-ms", "1500"] });
  const stopped: number[] = [];
  try {
    const { client, ids } = tc;
    const [id] = ids;
    const engine = client.engines.find((e) => e.id === id)!;
    await client.directView(id!).push({ kept: "set before the stop" });

    process.kill(engine.pid, "SIGSTOP");
    stopped.push(engine.pid);
    await eventually(`engine ${id} declared dead`, () => client.engines.find((e) => e.id === id)?.state === "dead");
    const dead = Date.now();
    process.kill(engine.pid, "SIGCONT");
    stopped.length = 0;

    await eventually(`engine ${id} alive again`, () => client.ids.includes(id!), 30_000);
    const back = Date.now();
    t.diagnostic(`declared dead -> alive again after SIGCONT: ${back - dead} ms`);
    assert.deepEqual(client.engines.map((e) => e.id).sort(), [...ids].sort(), "no new engine id: it came back as itself");
    assert.ok(isRunning(engine.pid), "the engine process did not exit");
    assert.equal(await client.directView(id!).pull("kept"), "set before the stop");
    assert.equal(await client.directView(id!).apply(pidOf), engine.pid);
    const spread = await client.loadBalancedView().map((x: number) => x * 2, [1, 2, 3, 4], { chunkSize: 1 });
    assert.deepEqual(spread, [2, 4, 6, 8]);
    const status = await client.status();
    assert.notEqual(status.engines.find((e) => e.id === id)?.state, "dead");
  } finally {
    resume(stopped);
    await tc.stop();
  }
});

test("engines outlive a controller stopped past their old 10 s limit, and work for it again when it resumes", { timeout: 90_000 }, async () => {
  const tc = await startCluster({ n: 2 });
  const controllerPid = tc.cluster.controller.pid;
  const stopped: number[] = [];
  try {
    const { client, ids } = tc;
    const pids = client.engines.map((e) => e.pid);
    await client.directView("all").push({ before: 1 });
    process.kill(controllerPid, "SIGSTOP");
    stopped.push(controllerPid);
    await sleep(13_000);
    const resumed = Date.now();
    process.kill(controllerPid, "SIGCONT");
    stopped.length = 0;

    for (const pid of pids) assert.ok(isRunning(pid), `engine pid ${pid} is still running`);
    // Alive on a beat heard after the resume (whether the controller kept the engine or it rejoined).
    await eventually("every engine alive and heard since the resume", async () => {
      const status = await client.status();
      return ids.every((id) => {
        const engine = status.engines.find((e) => e.id === id);
        return engine !== undefined && ["idle", "busy"].includes(engine.state) && engine.lastHeartbeat > resumed;
      });
    }, 30_000);
    for (const [i, id] of ids.entries()) {
      assert.equal(await client.directView(id).apply(pidOf), pids[i]);
      assert.equal(await client.directView(id).pull("before"), 1, `engine ${id} kept its namespace`);
    }
  } finally {
    resume(stopped);
    await tc.stop();
  }
});

test("a client killed in the middle of a 20,000-task map: its queued tasks are aborted and another client is not blocked behind them", { timeout: 120_000 }, async () => {
  const tc = await startCluster({ n: 2 });
  const script = fileURLToPath(new URL("./support/orphan-client.js", import.meta.url));
  const child = spawn(process.execPath, [script, tc.cluster.clientFile, "2"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
    const { last, count } = JSON.parse(line) as { first: string; last: string; count: number };
    assert.equal(count, 20_000);
    const { client } = tc;
    // Killed while its map runs: some tasks done, most still queued.
    await eventually("the orphan's map to be running", async () => (await client.status()).tasks.done > 0);
    child.kill("SIGKILL");
    await once(child, "exit");

    await eventually("nothing left queued or waiting", async () => {
      const { tasks } = await client.status();
      return tasks.unassigned === 0 && tasks.queued === 0;
    }, 60_000);
    assert.equal(await client.loadBalancedView().apply((x: number) => x + 1, 41), 42);
    const record = await client.getResult(last);
    assert.equal(record.status, "aborted");
    assert.match(record.error?.evalue ?? "", /client was silent .* gone/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await tc.stop();
  }
});

test("a client busy in synchronous code for longer than the tolerance is not gone: its map completes", { timeout: 120_000 }, async () => {
  const tc = await startCluster({ n: 2 });
  const script = fileURLToPath(new URL("./support/orphan-client.js", import.meta.url));
  // 2,000 naps of 10 ms (10 s of work for 2 engines): mostly still queued while the client's main thread spins for 6 s (the tolerance is 3 s).
  const child = spawn(process.execPath, [script, tc.cluster.clientFile, "2", "busy", "6000", "2000"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const started = JSON.parse((await lines.next()).value as string) as { count: number };
    assert.equal(started.count, 2000);
    const ended = JSON.parse((await lines.next()).value as string) as { ok?: number; error?: string };
    assert.deepEqual(ended, { ok: 2000 });
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await tc.stop();
  }
});

test("with --orphan-tasks keep, the tasks of a killed client go on running", { timeout: 120_000 }, async () => {
  // Info level whatever CI sets: the test reads the controller's log line about the client it found gone.
  const tc = await startCluster({ n: 2, controllerArgs: ["--orphan-tasks", "keep", "--log-level", "info"] });
  const script = fileURLToPath(new URL("./support/orphan-client.js", import.meta.url));
  const child = spawn(process.execPath, [script, tc.cluster.clientFile, "2"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await once(createInterface({ input: child.stdout! }), "line");
    const { client } = tc;
    await eventually("the orphan's map to be running", async () => (await client.status()).tasks.done > 0);
    child.kill("SIGKILL");
    await once(child, "exit");
    const log = tc.cluster.controller.logFile!;
    await eventually("the controller to find the client gone", () => readFileSync(log, "utf8").includes("its tasks are kept (--orphan-tasks keep)"));
    const { tasks } = await client.status();
    assert.ok(tasks.unassigned + tasks.queued > 0, `work left: ${JSON.stringify(tasks)}`);
    assert.ok(!readFileSync(log, "utf8").includes("aborting its"), "nothing aborted");
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await tc.stop();
  }
});
