/**
 * Liveness judges engines, not the controller's own lateness (issue 7): a paused or stalled controller
 * finds every engine still registered and a map in flight completes with the right values.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { readConnectionFile } from "@tsparallel/protocol";
import type { Client } from "tsparallel";
import { eventually, isRunning, startCluster, type TestCluster } from "./support/cluster-fixture.js";
import { FakeClient } from "./support/controller-harness.js";

/** Heartbeats as tight as today's main tolerates (3 s): a 4 s stall exceeds them. */
const TIGHT = ["--heartbeat-period", "250", "--heartbeat-misses", "12"];

/** Every engine death the client hears of, from now on. */
function deathsSeen(client: Client): number[] {
  const dead: number[] = [];
  client.events.on("engine_dead", (event) => dead.push(event.id));
  return dead;
}

async function assertAllAlive(tc: TestCluster, deaths: number[]): Promise<void> {
  assert.deepEqual(deaths, [], "no engine was declared dead");
  const snapshot = await tc.client.status();
  assert.deepEqual(
    snapshot.engines.filter((e) => e.state === "dead" || e.state === "stopped").map((e) => e.id),
    [],
    "every engine is still registered",
  );
  assert.equal(snapshot.engines.length, tc.ids.length);
  for (const engine of tc.cluster.engines) assert.ok(isRunning(engine.pid), `engine process ${engine.pid} still runs`);
}

/** A map of tasks that take ~10 ms each, started and under way when this returns. */
async function mapUnderWay(client: Client, n: number) {
  const items = Array.from({ length: n }, (_, i) => i);
  const ar = client.loadBalancedView().map((x: number) => {
    const until = Date.now() + 10;
    while (Date.now() < until);
    return x * 3;
  }, items);
  while (ar.progress === 0) await sleep(20);
  return { ar, items };
}

async function pauseController(tc: TestCluster, ms: number): Promise<void> {
  const pid = tc.cluster.controller.pid;
  process.kill(pid, "SIGSTOP");
  try {
    await sleep(ms);
  } finally {
    process.kill(pid, "SIGCONT");
  }
}

for (const { pauseMs, args, why } of [
  { pauseMs: 4_000, args: TIGHT, why: "beyond 3 s heartbeats" },
  { pauseMs: 15_000, args: [], why: "with the default heartbeats" },
]) {
  test(`controller SIGSTOPped ${pauseMs / 1000} s (${why}): every engine is still there and the map in flight is right`, { timeout: 120_000 }, async () => {
    const tc = await startCluster({ n: 2, controllerArgs: args });
    try {
      const deaths = deathsSeen(tc.client);
      const { ar, items } = await mapUnderWay(tc.client, 600);
      await pauseController(tc, pauseMs);
      assert.deepEqual(await ar, items.map((x) => x * 3));
      await assertAllAlive(tc, deaths);
      // The engines still take work after the pause.
      assert.deepEqual(await tc.client.loadBalancedView().map((x: number) => x + 1, [1, 2, 3, 4]), [2, 3, 4, 5]);
    } finally {
      await tc.stop();
    }
  });
}

test("signed requests of 100 MB and 46 MB of JSON are dropped as oversized, one for 200k ids is refused clearly, and no engine is declared dead", { timeout: 120_000 }, async () => {
  const tc = await startCluster({ n: 2, controllerArgs: TIGHT });
  const raw = new FakeClient(readConnectionFile(tc.cluster.clientFile, "client"));
  try {
    const deaths = deathsSeen(tc.client);
    // About 100 MB of JSON: over the JSON frame limit, so it is dropped before anything parses it.
    const huge = Array.from({ length: 4_000_000 }, (_, i) => `no-such-task-${i}`);
    await assert.rejects(raw.request("result_request", { msgIds: huge }), /no reply to result_request/);
    await eventually("the drop to be logged", () => /dropped for oversized/.test(readFileSync(tc.cluster.controller.logFile!, "utf8")));
    // About 46 MB: under the general JSON limit, over the client socket's 8 MiB (parsing it held the
    // controller's loop for seconds): dropped too, unparsed.
    const big = Array.from({ length: 2_000_000 }, (_, i) => `no-such-task-${i}`);
    await assert.rejects(raw.request("result_request", { msgIds: big }), /no reply to result_request/);
    // About 4.5 MB: parsed, then refused with a reason.
    const many = Array.from({ length: 200_000 }, (_, i) => `no-such-task-${i}`);
    await assert.rejects(raw.request("result_request", { msgIds: many }), /BadRequest: a result_request may name at most 100000 msgIds, this one names 200000/);
    // The controller goes on judging for a while after the big requests: nobody is blamed for them.
    await sleep(2_000);
    await assertAllAlive(tc, deaths);
    assert.deepEqual(await tc.client.loadBalancedView().map((x: number) => x * 2, [1, 2, 3]), [2, 4, 6]);
  } finally {
    raw.close();
    await tc.stop();
  }
});

test("an engine killed on the controller's host is dead as soon as its process is gone; a paused one is not", { timeout: 90_000 }, async () => {
  // Five minutes of silence before heartbeats alone would tell: only the process check can be quick.
  const tc = await startCluster({ n: 2, controllerArgs: ["--heartbeat-period", "1000", "--heartbeat-misses", "300"] });
  try {
    const reasons = new Map<number, string>();
    tc.client.events.on("engine_dead", (event) => reasons.set(event.id, event.reason));
    const [victim, paused] = tc.cluster.engines;
    const idOf = (pid: number) => tc.client.engines.find((e) => e.pid === pid)!.id;
    process.kill(paused.pid, "SIGSTOP");
    try {
      process.kill(victim.pid, "SIGKILL");
      const reason = await eventually("the killed engine to be declared dead", () => reasons.get(idOf(victim.pid)), 60_000);
      assert.match(reason, new RegExp(`process ${victim.pid} .*exited`));
      // The paused engine has been silent as long as the dead one, but its process is there.
      await sleep(3_000);
    } finally {
      process.kill(paused.pid, "SIGCONT");
    }
    assert.equal(reasons.has(idOf(paused.pid)), false, "the paused engine is not declared dead");
    assert.deepEqual(await tc.client.loadBalancedView().map((x: number) => x + 1, [1, 2, 3]), [2, 3, 4]);
  } finally {
    await tc.stop();
  }
});
