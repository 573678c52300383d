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

  test("the engine exits 1 when its heartbeats are not echoed, even while stuck in a loop", async () => {
    controller = new FakeController();
    controller.echoHeartbeats = false;
    await controller.startEngine(0, 100);
    controller.submit([{ body: { kind: "execute", code: "while (true) {}" } }]);
    // max(10 x 100 ms, 10 s) of silence, then the engine gives up.
    const code = await controller.exitCode;
    assert.equal(code, 1, `exit ${code}, signal ${controller.engine!.signalCode}\n${controller.engineLog}`);
    assert.match(controller.engineLog, /controller is gone/);
  });

  test("the engine exits 1 when no registration reply comes", async () => {
    controller = new FakeController();
    await controller.bind();
    controller.spawnEngine();
    await controller.waitFor("registration_request");
    assert.equal(await controller.exitCode, 1);
    assert.match(controller.engineLog, /no registration reply/);
  });
});
