/**
 * Hostile input against a live cluster (issue 8): a signed message nested 10,000 deep, a replayed
 * submit, a flood of junk and its log lines, a controller whose stderr is a full disk.
 * Each was observed to crash, re-run code or flood the log on the base commit.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, test } from "node:test";
import { DELIMITER, Signer } from "@tsparallel/protocol";
import { Client } from "tsparallel";
import { eventually, isRunning, privateRoot, sharedCluster } from "./support/cluster-fixture.js";
import { bins } from "./support/paths.js";
import { executeTask, rawClientPeer, rawSignedFrames, submitHeader } from "./support/raw-peer.js";
import { compositeOf } from "./support/remote-errors.js";

const TEST_TIMEOUT = { timeout: 120_000 };

describe("hostile messages against a live cluster", () => {
  const shared = sharedCluster();

  test("a signed submit with an extra field nested 10,000 deep is dropped; the controller lives and serves", TEST_TIMEOUT, async () => {
    const { client, ids } = shared();
    const { dealer, key, controllerPid } = rawClientPeer(client.connectionFile);
    try {
      // The extra field rides in the task and in its body, which the controller forwards to the engines as it is.
      const deep = '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000);
      const signer = new Signer(key);
      const task = executeTask(ids, "var deepRan = true") as { body: object };
      const inTask = `{"tasks":[${JSON.stringify(task).slice(0, -1)},"extra":${deep}}]}`;
      const body = JSON.stringify(task.body);
      const inBody = `{"tasks":[${JSON.stringify({ ...task, body: "BODY" }).replace('"BODY"', `${body.slice(0, -1)},"extra":${deep}}`)}]}`;
      await dealer.send(rawSignedFrames(signer, submitHeader(), inTask));
      await dealer.send(rawSignedFrames(signer, submitHeader(), inBody));
      const all = client.directView();
      assert.deepEqual(await all.apply(() => 1).get(30_000), ids.map(() => 1));
      assert.ok(isRunning(controllerPid), "the controller is alive");
      await assert.rejects(all.pull("deepRan").get(20_000), compositeOf("NameError", ids.length));
    } finally {
      dealer.close();
    }
  });

  test("a captured signed submit sent again after 10,000 other tasks is dropped, not run again", TEST_TIMEOUT, async () => {
    const { client, ids } = shared();
    const { dealer, key } = rawClientPeer(client.connectionFile);
    const signer = new Signer(key);
    const all = client.directView();
    const signedSubmit = (code: string) => rawSignedFrames(signer, submitHeader(), JSON.stringify({ tasks: [executeTask(ids, code)] }));
    try {
      const captured = signedSubmit("globalThis.replayCount = (globalThis.replayCount ?? 0) + 1");
      await dealer.send(captured);
      await eventually("the captured submit to run once", () => all.pull("replayCount").get(20_000).then((v) => (v as number[]).every((n) => n === 1), () => false));
      // Enough other tasks that the controller's task records (10,000) no longer hold the captured one.
      const lv = client.loadBalancedView();
      const items = Array.from({ length: 10_050 }, (_, i) => i);
      const results = await lv.map((x: number) => x, items).get(110_000);
      assert.equal(results.length, items.length);
      await dealer.send(captured);
      // Same peer, same order: once this marker ran everywhere, the replay would have run before it.
      await dealer.send(signedSubmit("var afterReplay = true"));
      await eventually("the marker after the replay to run", () => all.pull("afterReplay").get(20_000).then(() => true, () => false));
      assert.deepEqual(await all.pull("replayCount").get(20_000), ids.map(() => 1), "the replayed submit ran again");
    } finally {
      dealer.close();
    }
  });

  test("2,000 junk messages from one peer cost a few log lines, not 2,000", TEST_TIMEOUT, async () => {
    const { cluster, client, ids } = shared();
    const logFile = cluster.controller.logFile;
    assert.ok(logFile, "the controller has a log file");
    const dropLines = () => readFileSync(logFile, "utf8").split("\n").filter((l) => l.includes("dropped a bad message")).length;
    const before = dropLines();
    const { dealer } = rawClientPeer(client.connectionFile);
    try {
      const junk = [DELIMITER, Buffer.from("0".repeat(64)), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
      for (let i = 0; i < 2000; i++) await dealer.send(junk);
      // A round trip after the junk: the controller has read all of it by the time this answers.
      assert.deepEqual(await client.directView().apply(() => 2).get(30_000), ids.map(() => 2));
      const added = dropLines() - before;
      assert.ok(added >= 1, "the junk is still reported");
      assert.ok(added <= 20, `the junk wrote ${added} log lines`);
    } finally {
      dealer.close();
    }
  });
});

describe("a controller whose log is on a full disk", () => {
  test("keeps running and serving when every log write fails (stderr on /dev/full)", TEST_TIMEOUT, async () => {
    privateRoot();
    const profile = "fulldisk";
    const full = openSync("/dev/full", "w");
    const controller = spawn(process.execPath, [bins.controller, "--profile", profile, "--db", "memory"], { stdio: ["ignore", "pipe", full] });
    closeSync(full);
    try {
      const lines = createInterface({ input: controller.stdout! });
      const ready = await new Promise<{ clientFile: string }>((resolve, reject) => {
        lines.on("line", (line) => {
          try {
            const parsed = JSON.parse(line) as { ready?: boolean; clientFile: string };
            if (parsed.ready) resolve(parsed);
          } catch { /* not the ready line */ }
        });
        controller.once("exit", (code) => reject(new Error(`the controller exited (${code}) before it was ready`)));
      });
      const { dealer } = rawClientPeer(ready.clientFile);
      try {
        for (let i = 0; i < 50; i++) await dealer.send([Buffer.from("junk that makes a warning")]);
      } finally {
        dealer.close();
      }
      const client = await Client.connect({ connectionFile: ready.clientFile, timeout: 20_000 });
      try {
        const status = await client.status();
        assert.ok(Array.isArray(status.engines));
      } finally {
        client.close();
      }
      assert.equal(controller.exitCode, null, "the controller is still running");
    } finally {
      controller.kill("SIGKILL");
    }
  });
});
