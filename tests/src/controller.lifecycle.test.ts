import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { test } from "node:test";
import type { EngineInfo } from "@tsparallel/protocol";
import { FakeEngine, Scene, waitFor } from "./support/controller-harness.js";

const mode = (path: string) => statSync(path).mode & 0o777;

/** A graceful stop: exit code 0 and both connection files gone. */
async function exitedCleanly(scene: Scene): Promise<void> {
  const { code } = await scene.controller.exited;
  assert.equal(code, 0);
  assert.equal(existsSync(scene.controller.ready.clientFile), false);
  assert.equal(existsSync(scene.controller.ready.engineFile), false);
}

test("the controller writes both connection files 0600 in a 0700 directory and prints one ready line", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const { ready, stdoutLines, child } = scene.controller;
    assert.deepEqual(Object.keys(ready).sort(), ["clientFile", "engineFile", "pid", "ready"]);
    assert.equal(ready.ready, true);
    assert.equal(ready.pid, child.pid);
    assert.equal(stdoutLines.length, 1, `stdout should hold only the ready line, got ${JSON.stringify(stdoutLines)}`);
    assert.equal(mode(ready.clientFile), 0o600);
    assert.equal(mode(ready.engineFile), 0o600);
    assert.equal(mode(dirname(ready.clientFile)), 0o700);

    const client = scene.controller.clientInfo();
    const engine = scene.controller.engineInfo();
    assert.match(client.key, /^[0-9a-f]{64}$/);
    assert.equal(engine.key, client.key);
    assert.equal(client.signature_scheme, "hmac-sha256");
    assert.equal(client.ip, "127.0.0.1");
    assert.equal(client.location, "127.0.0.1");
    assert.equal(client.profile, "default");
    assert.equal(client.controller.pid, child.pid);
    const ports = [client.ports.client, client.ports.events, engine.ports.engine, engine.ports.heartbeat];
    assert.equal(new Set(ports).size, 4, "four distinct ports");
    for (const port of ports) assert.ok(Number.isInteger(port) && port > 0);
  } finally {
    await scene.close();
  }
});

test("engines get ids 0, 1, 2... that stay theirs and are never reused", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const e0 = await scene.engine();
    const e1 = await scene.engine();
    assert.deepEqual([e0.id, e1.id], [0, 1]);
    assert.equal(e0.heartbeatMs, 1000);

    const registered = await Promise.all([0, 1].map((id) => client.events.next("engine_registered", (m) => m.content.engine.id === id)));
    assert.deepEqual(registered.map((m) => m.content.engine.uuid), [e0.uuid, e1.uuid]);

    // A repeated registration (a lost reply) keeps the id and publishes nothing new.
    const again = await e0.register();
    assert.equal(again.content.status === "ok" && again.content.id, 0);

    e1.send("unregistration_request", { reason: "test" });
    await client.events.next("engine_unregistered", (m) => m.content.id === 1);
    const e2 = await scene.engine();
    assert.equal(e2.id, 2, "id 1 is not reused");
    assert.equal(client.events.ofType("engine_registered").filter((m) => m.content.engine.id === 0).length, 1);

    const reply = await client.request<"connect_reply">("connect_request", {});
    const states = Object.fromEntries(reply.content.engines.map((e: EngineInfo) => [e.id, e.state]));
    assert.deepEqual(states, { 0: "idle", 1: "stopped", 2: "idle" });
    assert.equal(reply.content.snapshot.engines.length, 3);
  } finally {
    await scene.close();
  }
});

test("every heartbeat is echoed back to the identity that sent it", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const engine = await scene.engine();
    const echo = await engine.beats.next("heartbeat");
    assert.equal(echo.content.uuid, engine.uuid);
    assert.equal(echo.content.id, engine.id);
    await engine.beats.next("heartbeat");
  } finally {
    await scene.close();
  }
});

test("shutdown_request with hub stops the engines, replies, exits 0 and removes the connection files", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const client = await scene.client();
    const engine = await scene.engine();
    // Behave like tspengine: a shutdown request makes the engine unregister.
    void engine.inbox.next("shutdown_request").then(() => engine.send("unregistration_request", { reason: "shutdown" }));

    const reply = await client.request<"shutdown_reply">("shutdown_request", { targets: null, hub: true });
    assert.deepEqual(reply.content.engines, [0]);
    await client.events.next("controller_shutdown");
    await client.events.next("engine_unregistered", (m) => m.content.id === 0);
    await exitedCleanly(scene);
  } finally {
    await scene.close();
  }
});

test("SIGTERM shuts the controller down gracefully: engines are asked to stop, exit 0, files removed", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const engine = await scene.engine();
    scene.controller.child.kill("SIGTERM");
    await engine.inbox.next("shutdown_request");
    await exitedCleanly(scene);
  } finally {
    await scene.close();
  }
});

test("a registration with a wrong key is ignored, and the controller still registers engines", { timeout: 30_000 }, async () => {
  const scene = await Scene.start();
  try {
    const info = scene.controller.engineInfo();
    const impostor = scene.track(new FakeEngine({ ...info, key: "0".repeat(64) }));
    const attempt = impostor.register(1000);
    await waitFor(() => /dropped a bad message from \S+ \(bad signature\)/.test(scene.controller.stderr), "the controller to log the dropped message");
    const genuine = await scene.engine();
    assert.equal(genuine.id, 0, "the forged registration took no id");
    await assert.rejects(attempt, /no registration_reply/);
  } finally {
    await scene.close();
  }
});
