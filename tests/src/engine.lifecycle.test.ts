import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { FakeController } from "./support/fake-controller.js";

describe("engine lifecycle: registration, heartbeat, shutdown", () => {
  let controller: FakeController;

  afterEach(() => controller.close());

  test("registers with uuid, hostname, pid and version", async () => {
    controller = new FakeController();
    await controller.bind();
    const child = controller.spawnEngine();
    const request = await controller.acceptRegistration(7);
    assert.match(request.uuid, /^[0-9a-f-]{36}$/);
    assert.equal(request.hostname, hostname());
    assert.equal(request.pid, child.pid);
    assert.match(request.version, /^\d+\.\d+\.\d+/);
    // The routing identity is the uuid, so the controller can address the engine by it.
    assert.equal(controller.engineIdentity!.toString(), request.uuid);
    const result = await controller.run({ kind: "execute", code: "1" });
    assert.equal(result.engineId, 7);
  });

  test("--profile finds the profile's engine connection file under TSPARALLEL_DIR", async () => {
    controller = new FakeController();
    const security = join(controller.profile.dir, "profile_lab", "security");
    mkdirSync(security, { recursive: true, mode: 0o700 });
    await controller.bind(join(security, "tspcontroller-engine.json"));
    controller.spawnEngine({ args: ["--profile", "lab", "--log-level", "warn"] });
    await controller.acceptRegistration(4);
    assert.equal((await controller.run({ kind: "execute", code: "6 * 7" })).value, 42);
  });

  test("a refused registration makes the engine exit 1", async () => {
    controller = new FakeController();
    await controller.bind();
    controller.spawnEngine();
    const request = await controller.waitFor("registration_request");
    controller.engineIdentity = request.identities[0]!;
    controller.sendToEngine("registration_reply", { status: "error", message: "no room" });
    assert.equal(await controller.exitCode, 1);
    assert.match(controller.engineLog, /no room/);
  });

  test("heartbeats carry the engine's id, rss, heap and cpu, and keep coming during a busy loop", async () => {
    controller = new FakeController();
    await controller.startEngine(2, 50);
    const first = await controller.waitFor("heartbeat");
    assert.equal(first.content.id, 2);
    assert.ok(first.content.rss > 10 * 1024 * 1024, `rss ${first.content.rss}`);
    assert.ok(first.content.heapUsed > 0, `heapUsed ${first.content.heapUsed}`);
    assert.equal(typeof first.content.cpu, "number");
    const submitted = Date.now();
    const [busy] = controller.submit([{ body: { kind: "execute", code: "const stop = Date.now() + 1500; while (Date.now() < stop) {}" } }]);
    // Beats keep coming while the main thread spins, and show it using CPU (an idle engine is near 0).
    const hot = await controller.waitFor("heartbeat", 5_000, (msg) => msg.content.time > submitted && msg.content.cpu > 10);
    const [result] = await controller.results([busy!]);
    assert.ok(hot.content.time < result!.completed, "the beat was sent while the loop ran");
  });

  test("SIGINT to an idle engine does not kill it", async () => {
    controller = new FakeController();
    await controller.startEngine();
    controller.engine!.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await controller.run({ kind: "execute", code: "'alive'" })).value, "alive");
  });

  test("shutdown_request makes the engine unregister and exit 0", async () => {
    controller = new FakeController();
    await controller.startEngine();
    controller.sendToEngine("shutdown_request", {});
    const unregistration = await controller.waitFor("unregistration_request");
    assert.equal(typeof unregistration.content, "object");
    assert.equal(await controller.exitCode, 0);
  });

  test("with no controller for --lost-controller-ms the engine exits 1, even while stuck in a loop", async () => {
    controller = new FakeController();
    controller.echoHeartbeats = false;
    await controller.bind();
    await controller.startEngine(0, 100, { args: ["--file", controller.connectionFile, "--lost-controller-ms", "3000"] });
    controller.submit([{ body: { kind: "execute", code: "while (true) {}" } }]);
    const code = await controller.exitCode;
    assert.equal(code, 1, `exit ${code}, signal ${controller.engine!.signalCode}\n${controller.engineLog}`);
    assert.match(controller.engineLog, /no controller for 3 s/);
  });

  test("told to register again, the engine drops its queued tasks, registers with the same uuid and its id, and keeps its namespace", async () => {
    controller = new FakeController();
    await controller.bind();
    controller.spawnEngine();
    const first = await controller.acceptRegistration(7);
    await controller.run({ kind: "execute", code: "const kept = 'from before'" });
    await controller.waitFor("heartbeat");
    // A task runs and one waits behind it when the controller declares the engine dead.
    const submitted = Date.now();
    const [running, queued] = controller.submit([
      { body: { kind: "execute", code: "const until = Date.now() + 1500; while (Date.now() < until) {}" } },
      { body: { kind: "execute", code: "'should not run'" } },
    ]);
    // Both are on the engine once its loop shows in a beat.
    await controller.waitFor("heartbeat", 5_000, (msg) => msg.content.time > submitted && msg.content.cpu > 10);
    controller.sendToHeartbeat("reregister_request", { reason: "engine 7 was declared dead", heartbeatTime: Date.now() });
    const again = await controller.waitFor("registration_request");
    assert.equal(again.content.uuid, first.uuid);
    assert.equal(again.content.id, 7);
    const [ran, dropped] = await controller.results([running!, queued!]);
    assert.equal(ran!.status, "ok");
    assert.equal(dropped!.status, "aborted");
    // A controller that does not know the engine gives it another id: it takes it and keeps its names.
    controller.sendToEngine("registration_reply", { status: "ok", id: 9, heartbeatMs: 100, heartbeatTimeoutMs: 1000 });
    await controller.waitFor("heartbeat", 10_000, (beat) => beat.content.id === 9);
    const result = await controller.run({ kind: "execute", code: "kept" });
    assert.equal(result.value, "from before");
    assert.equal(result.engineId, 9);
    assert.match(controller.engineLog, /registered again as engine 9 \(was 7/);
    assert.equal(controller.engine!.exitCode, null, "still running");
  });

  test("an engine whose heartbeats go unanswered registers again (same uuid and id) and keeps serving once answered", { timeout: 60_000 }, async () => {
    controller = new FakeController();
    await controller.bind();
    controller.spawnEngine();
    const first = await controller.acceptRegistration(4);
    await controller.run({ kind: "execute", code: "const before = 'still here'" });
    controller.echoHeartbeats = false;
    // max(10 beats, 10 s) of silence, then registration attempts with backoff.
    const again = await controller.waitFor("registration_request", 30_000);
    assert.equal(again.content.uuid, first.uuid);
    assert.equal(again.content.id, 4);
    controller.echoHeartbeats = true;
    controller.sendToEngine("registration_reply", { status: "ok", id: 4, heartbeatMs: 100, heartbeatTimeoutMs: 1000 });
    assert.equal((await controller.run({ kind: "execute", code: "before" })).value, "still here");
    assert.match(controller.engineLog, /registered again as engine 4/);
    assert.equal(controller.engine!.exitCode, null, "still running");
  });

  test("a request to register again that answers a beat sent before the last registration is ignored", async () => {
    controller = new FakeController();
    await controller.startEngine(3);
    const sentAt = Date.now();
    controller.sendToHeartbeat("reregister_request", { reason: "stale", heartbeatTime: sentAt - 60_000 });
    await controller.waitFor("heartbeat", 10_000, (beat) => beat.content.time > sentAt);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(controller.engineInbox.all.filter((m) => m.header.msg_type === "registration_request").length, 1);
  });

  test("the engine exits 1 when no registration reply comes within --lost-controller-ms", async () => {
    controller = new FakeController();
    await controller.bind();
    controller.spawnEngine({ args: ["--file", controller.connectionFile, "--lost-controller-ms", "3000"] });
    await controller.waitFor("registration_request");
    assert.equal(await controller.exitCode, 1);
    assert.match(controller.engineLog, /no registration reply/);
  });

  test("an engine whose registration goes unanswered asks again (a controller busy with a start storm), and registers when answered", async () => {
    controller = new FakeController();
    await controller.bind();
    controller.spawnEngine({ args: ["--file", controller.connectionFile, "--lost-controller-ms", "60000"] });
    await controller.waitFor("registration_request");
    // The first request goes unanswered; the engine sends its request again after its 10 s wait.
    const again = await controller.waitFor("registration_request", 30_000);
    assert.equal(controller.engine!.exitCode, null, "still running");
    assert.match(controller.engineLog, /asking again/);
    controller.engineIdentity = again.identities[0]!;
    controller.sendToEngine("registration_reply", { status: "ok", id: 7, heartbeatMs: 100, heartbeatTimeoutMs: 1000 });
    await controller.waitFor("heartbeat", 10_000);
    assert.equal(controller.engine!.exitCode, null, "registered and running");
  });
});
