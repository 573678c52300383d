/**
 * A controller that restarts without loss: SIGKILL, then `tspcontroller --restore` on the same profile.
 * Real controller and engine processes, a real SQLite task store in the profile directory.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";
import { clientConnectionFile, engineConnectionFile, readConnectionFile } from "@tsparallel/protocol";
import { Client } from "tsparallel";
import { eventually } from "./support/cluster-fixture.js";
import { bins } from "./support/paths.js";
import { kill9, startController } from "./support/controller-process.js";

const started: ChildProcess[] = [];
after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function startEngine(profile: string): ChildProcess {
  const child = spawn(process.execPath, [bins.engine, "--file", engineConnectionFile(profile)], { stdio: "ignore", env: process.env });
  started.push(child);
  return child;
}


test("after SIGKILL, --restore takes the same ports and key; a new client fetches old results by msg id; pending tasks failed clearly; engine ids go on", { timeout: 120_000 }, async () => {
  const profile = "restore1";
  const first = await startController(profile, ["--db-max-value-bytes", "4096"], started);
  const engine = startEngine(profile);
  const rc = await Client.connect({ profile, activate: false });
  let rc2: Client | undefined;
  try {
    await rc.waitForEngines(1, { timeout: 30_000 });
    const dv = rc.directView(0);
    const done = dv.apply((x: number) => x * 2, 21);
    const printed = dv.execute("console.log('hello from before the crash')");
    const big = dv.apply(() => new Uint8Array(10_000).fill(3));
    assert.equal(await done, 42);
    await printed;
    assert.equal((await big).length, 10_000);
    const pending = dv.apply(() => new Promise((resolve) => setTimeout(() => resolve("too late"), 60_000)));
    await eventually("the long task to be running", async () => (await rc.status()).engines.some((e) => e.current?.msgId === pending.msgIds[0]));
    // Finished tasks reach the store's writer thread within 20 ms of their results leaving, a new one within
    // 500 ms (most finish sooner and are written once): wait until everything, the running one included, is
    // committed, so that the store knows it when it dies.
    await eventually("the running task to be written to the store", async () => (await rc.status()).store?.waiting === 0);
    assert.equal((await rc.status()).store?.kind, "sqlite");
    const clientFileBefore = readFileSync(clientConnectionFile(profile), "utf8");
    const engineFileBefore = readFileSync(engineConnectionFile(profile), "utf8");

    // The engine goes too, so that what follows does not depend on engines that rejoin (see the last test).
    await kill9(engine);
    await kill9(first.child);
    const second = await startController(profile, ["--restore"], started);

    const clientInfo = readConnectionFile(clientConnectionFile(profile), "client");
    const before = JSON.parse(clientFileBefore) as typeof clientInfo;
    assert.deepEqual(clientInfo.ports, before.ports, "same client and events ports");
    assert.equal(clientInfo.key, before.key, "same key");
    const engineInfo = readConnectionFile(engineConnectionFile(profile), "engine");
    const engineBefore = JSON.parse(engineFileBefore) as typeof engineInfo;
    assert.deepEqual(engineInfo.ports, engineBefore.ports, "same engine and heartbeat ports");
    assert.notEqual(clientInfo.controller.pid, before.controller.pid, "written by the new controller");

    // A client that never knew the old controller.
    rc2 = await Client.connect({ profile, activate: false });
    assert.match(second.stderr(), /restored from .*tspcontroller-tasks\.sqlite: 1 engine\(s\) known \(next id 1\), 1 pending task\(s\) failed/);
    const old = await rc2.getResult(done.msgIds[0]!);
    assert.equal(old.status, "ok");
    assert.equal(old.value, 42);
    assert.equal(old.engineId, 0);
    assert.match((await rc2.getResult(printed.msgIds[0]!)).stdout ?? "", /hello from before the crash/);
    const lost = await rc2.getResult(pending.msgIds[0]!);
    assert.equal(lost.status, "error");
    assert.equal(lost.error?.ename, "ControllerRestarted");
    assert.match(lost.error!.evalue, /queued or running, and was restarted/);
    const capped = await rc2.getResult(big.msgIds[0]!);
    assert.equal(capped.value, undefined, "over the cap: not stored");
    assert.match(capped.note ?? "", /over the task store's cap of 4096 bytes/);
    assert.ok((await rc2.controllerHistory()).includes(done.msgIds[0]!), "the history survives too");

    // The client that was connected all along hears of its task through the restarted controller.
    await assert.rejects(pending.get(20_000), /ControllerRestarted/);

    // The engine table survived: engine 0 is known (dead until it registers again), a new engine gets 1.
    assert.deepEqual(rc2.engines.map((e) => [e.id, e.state]), [[0, "dead"]]);
    startEngine(profile);
    assert.deepEqual(await rc2.waitForEngines(1, { timeout: 30_000 }), [1], "a new engine never takes a used id");
    assert.equal(await rc2.directView(1).apply((x: number) => x + 1, 1), 2);
  } finally {
    rc.close();
    rc2?.close();
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

test("--restore when the previous controller still runs is refused: the store and ports are in use", { timeout: 60_000 }, async () => {
  const profile = "restore2";
  const first = await startController(profile, ["--db", "sqlite"], started);
  try {
    await assert.rejects(startController(profile, ["--restore"], started), /in use|cannot bind/);
    const rc = await Client.connect({ profile, activate: false, timeout: 10_000 });
    rc.close();
  } finally {
    await kill9(first.child);
  }
});

test(
  "engines rejoin a restarted controller with their ids and namespaces",
  { timeout: 120_000 },
  async () => {
    const profile = "restore3";
    const first = await startController(profile, [], started);
    startEngine(profile);
    startEngine(profile);
    const rc = await Client.connect({ profile, activate: false });
    let rc2: Client | undefined;
    try {
      await rc.waitForEngines(2, { timeout: 30_000 });
      const ids = rc.ids;
      await rc.directView("all").push({ kept: "namespace" });
      await kill9(first.child);
      await startController(profile, ["--restore"], started);
      rc2 = await Client.connect({ profile, activate: false });
      await rc2.waitForEngines(2, { timeout: 20_000 });
      assert.deepEqual(rc2.ids, ids, "the same ids");
      assert.deepEqual(await rc2.directView("all").pull("kept"), ["namespace", "namespace"]);
    } finally {
      rc.close();
      rc2?.close();
      for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  },
);

test("load-balanced tasks with retries that were pending at a crash run again after --restore, and their client gets the values; those without retries fail clearly", { timeout: 120_000 }, async () => {
  const profile = "restore4";
  const first = await startController(profile, [], started);
  let engine = startEngine(profile);
  const rc = await Client.connect({ profile, activate: false });
  try {
    await rc.waitForEngines(1, { timeout: 30_000 });
    const slow = (tag: string) => new Promise((resolve) => setTimeout(() => resolve(tag), 1_500));
    const retried = rc.loadBalancedView({ retries: 1 });
    const running = retried.apply(slow, "ran again");
    const queued = retried.apply(slow, "queued, ran again");
    const once = rc.loadBalancedView().apply(slow, "never ran");
    await eventually("a task to be running and the rest written to the store", async () => {
      const status = await rc.status();
      return status.engines.some((e) => e.current !== undefined) && status.store?.waiting === 0;
    });
    // Its engine goes too: the retried tasks run on one that joins the restarted controller.
    await kill9(engine);
    await kill9(first.child);
    const second = await startController(profile, ["--restore"], started);
    assert.match(second.stderr(), /1 pending task\(s\) failed, 2 pending task\(s\) queued again \(they had retries left\)/);
    engine = startEngine(profile);

    assert.equal(await running.get(60_000), "ran again");
    assert.equal(await queued.get(60_000), "queued, ran again");
    await assert.rejects(once.get(20_000), /ControllerRestarted/);
  } finally {
    rc.close();
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});
