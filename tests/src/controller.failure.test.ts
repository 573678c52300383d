import assert from "node:assert/strict";
import { test } from "node:test";
import { packValue } from "@tsparallel/protocol";
import { FakeEngine, noop, Scene } from "./support/controller-harness.js";

const FAST_HEARTBEATS = ["--heartbeat-ms", "100", "--heartbeat-timeout-ms", "600"];

test("an engine that stops heartbeating is declared dead: lb tasks with retries move, the rest fail, late results are dropped", { timeout: 30_000 }, async () => {
  const scene = await Scene.start([...FAST_HEARTBEATS, "--lb-window", "hwm"]);
  try {
    const client = await scene.client();
    const doomed = await scene.engine();
    // Submitted while only the doomed engine exists, so all three land on it.
    const [[direct], [retried], [once]] = client.submit([
      { targets: [doomed.id], body: noop },
      { targets: null, lb: { retries: 1 }, body: noop },
      { targets: null, body: noop },
    ]);
    const held = await doomed.takeTasks(3);
    const doomedId = doomed.id;
    const survivor = await scene.engine();

    doomed.stopHeartbeats();
    const dead = await client.events.next("engine_dead");
    assert.equal(dead.content.id, doomed.id);
    assert.match(dead.content.reason, /no heartbeat/);

    const failed = await client.results([direct!, once!]);
    for (const { result } of failed.values()) {
      assert.equal(result.status, "error");
      assert.equal(result.error?.ename, "EngineError");
      assert.equal(result.error?.evalue, `engine ${doomed.id} died while running this task`);
    }
    const [moved] = await survivor.takeTasks(1);
    assert.equal(moved!.task.msgId, retried);
    survivor.reply([moved!], () => packValue("from the survivor").frames);
    const ok = (await client.results([retried!])).get(retried!)!.result;
    assert.equal(ok.engineId, survivor.id);

    // The dead engine answers late. Its registration afterwards, on the same socket, orders after the
    // late results, and the client's status round trip after anything the controller sent before it.
    doomed.reply(held, () => packValue("late").frames);
    doomed.stream([{ msgId: retried!, name: "stdout", text: "late output" }]);
    const reborn = await doomed.register();
    assert.equal(reborn.content.status === "ok" && reborn.content.id, doomedId, "a dead engine that registers again gets its id back");
    const status = await client.request<"status_reply">("status_request", {});
    for (const id of [direct!, retried!, once!]) assert.equal(client.resultCount(id), 1, `one result for ${id}`);
    assert.equal(client.inbox.ofType("stream").length, 0);
    assert.equal(status.content.engines.find((e) => e.id === doomedId)!.state, "idle", "alive again, holding none of its old tasks");
    assert.equal(status.content.engines.length, 2, "no new engine record");
    // Its late results for tasks it no longer holds are still dropped once it is back.
    doomed.reply(held, () => packValue("later still").frames);
    await doomed.register(); // same socket: handled after those results
    await client.request<"status_reply">("status_request", {});
    for (const id of [direct!, retried!, once!]) assert.equal(client.resultCount(id), 1, `still one result for ${id}`);
    assert.match(scene.controller.stderr, /dropped 3 result\(s\) from engine 0/);
  } finally {
    await scene.close();
  }
});

test("a dead engine's heartbeats are answered with reregister_request, not echoed; registering again revives it under its id and is published", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(FAST_HEARTBEATS);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const firstId = engine.id;
    await engine.beats.next("heartbeat");
    engine.stopHeartbeats();
    await client.events.next("engine_dead");
    const echoes = engine.beats.ofType("heartbeat").length;
    const sentAt = Date.now();
    engine.startHeartbeats();
    const ask = await engine.beats.next("reregister_request");
    assert.match(ask.content.reason, new RegExp(`engine ${firstId} was declared dead`));
    assert.ok(typeof ask.content.heartbeatTime === "number" && ask.content.heartbeatTime >= sentAt, "it names the beat it answers");
    assert.equal(engine.beats.ofType("heartbeat").length, echoes, "no echo for a dead engine");

    await engine.register();
    assert.equal(engine.id, firstId);
    const again = await client.events.next("engine_registered", (m) => m.content.engine.id === firstId);
    assert.equal(again.content.engine.uuid, engine.uuid);
    await engine.beats.next("heartbeat");
    const status = await client.request<"status_reply">("status_request", {});
    assert.equal(status.content.engines.find((e) => e.id === firstId)!.state, "idle");
  } finally {
    await scene.close();
  }
});

test("a heartbeat from an engine the controller never registered is answered with reregister_request", { timeout: 30_000 }, async () => {
  const scene = await Scene.start(FAST_HEARTBEATS);
  try {
    const stranger = new FakeEngine(scene.controller.engineInfo());
    stranger.id = 5;
    stranger.heartbeatMs = 100;
    stranger.startHeartbeats();
    const ask = await stranger.beats.next("reregister_request");
    assert.match(ask.content.reason, /does not know the engine/);
    const reply = await stranger.register().finally(() => stranger.stopHeartbeats());
    assert.equal(reply.content.status === "ok" && reply.content.id, 0, "an unknown uuid gets a new id, whatever id it had");
    stranger.close();
  } finally {
    await scene.close();
  }
});

test("when the last engine dies, waiting tasks fail with NoEnginesError instead of waiting forever", { timeout: 30_000 }, async () => {
  const scene = await Scene.start([...FAST_HEARTBEATS, "--hwm", "1"]);
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    const [[running], [waiting]] = client.submit([{ targets: null, body: noop }, { targets: null, body: noop }]);
    await engine.takeTasks(1);
    engine.stopHeartbeats();
    const results = await client.results([running!, waiting!]);
    assert.equal(results.get(running!)!.result.error?.ename, "EngineError");
    assert.equal(results.get(waiting!)!.result.error?.ename, "NoEnginesError");
  } finally {
    await scene.close();
  }
});

test("interrupt_request sends SIGINT through the engine's heartbeat socket", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    await engine.beats.next("heartbeat");
    const reply = await client.request<"interrupt_reply">("interrupt_request", { targets: [engine.id] });
    assert.deepEqual(reply.content.engines, [engine.id]);
    const signal = await engine.beats.next("signal_request");
    assert.equal(signal.content.signal, "SIGINT");
    await assert.rejects(client.request("interrupt_request", { targets: [5] }), /InvalidTargetError/);
  } finally {
    await scene.close();
  }
});

test("engine_stop_request asks the engine to shut down, then sends SIGTERM if it has not unregistered in 3 s", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const polite = await scene.engine();
    const stubborn = await scene.engine();
    await Promise.all([polite.beats.next("heartbeat"), stubborn.beats.next("heartbeat")]);
    void polite.inbox.next("shutdown_request").then(() => polite.send("unregistration_request", { reason: "asked" }));

    const reply = await client.request<"engine_stop_reply">("engine_stop_request", { targets: [polite.id, stubborn.id] });
    assert.deepEqual(reply.content.engines, [polite.id, stubborn.id]);
    await stubborn.inbox.next("shutdown_request");
    await client.events.next("engine_unregistered", (m) => m.content.id === polite.id);
    const signal = await stubborn.beats.next("signal_request");
    assert.equal(signal.content.signal, "SIGTERM");
    assert.equal(polite.beats.ofType("signal_request").length, 0, "the engine that unregistered got no signal");
  } finally {
    await scene.close();
  }
});
